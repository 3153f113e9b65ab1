// Pure Kotlin/JVM: no Android import, so `make test` compiles and tests it with kotlinc and JUnit 5
// (android_demo/tools/build_core.sh) exactly as Gradle does here. `src/cli` is the desktop
// command-line tool (javax.imageio); it is not part of the library the app links.
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

sourceSets {
    create("cli") {
        compileClasspath += sourceSets.main.get().output
        runtimeClasspath += sourceSets.main.get().output
    }
}

dependencies {
    testImplementation(libs.junit.jupiter)
}

tasks.test {
    useJUnitPlatform()
    systemProperty("pix2mobile.golden", rootProject.file("../tests/golden").absolutePath)
}

tasks.register<Jar>("cliJar") {
    description = "The command-line jar (the same one `make test` builds with kotlinc)."
    archiveFileName.set("pix2mobile-core.jar")
    manifest { attributes["Main-Class"] = "pix2mobile.core.cli.MainKt" }
    from(sourceSets.main.get().output, sourceSets["cli"].output)
    from(configurations.runtimeClasspath.get().map { if (it.isDirectory) it else zipTree(it) })
    duplicatesStrategy = DuplicatesStrategy.EXCLUDE
}

// The pix2mobile Android sample: `core` (pure Kotlin/JVM, compiled and tested by `make test` too)
// and `app` (the Android app, compiled by Android Studio only). Versions: gradle/libs.versions.toml.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "pix2mobile-android"
include(":core", ":app")

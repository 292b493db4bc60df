# funk top-level driver: Meson does the building; this file names the few commands people type.
#   make            build the optimized product (release, no sanitizers) and install it into
#                   build/{bin,lib,lib/funk,include,unikernels,share}
#   make test       install missing Debian packages, build the ASan+UBSan tree (build/test/meson,
#                   installed into build/test; `make build-test` builds only), run every test
#   make run        install, build the product, run the most complete end-to-end demo
#   make bench      build the product and print the benchmark tables (same optimized tree)
#   make fuzz       run the fuzz targets of the sanitized tree for longer (FUZZ_SECONDS, default 600)
#   make install    PREFIX=/usr/local (default) DESTDIR=: optimized build for PREFIX, installed
#   make uninstall  removes exactly what `make install` put there (same PREFIX and DESTDIR)
#   make check-install  install into a temp prefix and build+run an outside program via pkg-config
#   make deb        Debian packages (funk, funk-dev, funk-plugin-*) into build/deb/
#   make check-deb  unpack the packages into a throwaway root and run them from there
#   make cross-arm64  every component and unikernel built for aarch64 (cross file
#                   scripts/cross/aarch64-linux-gnu.ini), installed into build/arm64
#   make test-arm64 cross-arm64, then its unit tests under qemu-user (suite arm64; docs/arm64.md)
#
# MESON_OPTS (e.g. -Dcuda=disabled) go to every tree, so the product and the tested tree differ
# only in sanitizers and optimisation. docs/install.md describes the trees and the packages.

BUILD     ?= $(CURDIR)/build
MESON_OPTS ?=
PRODUCT_OPTS := -Dsanitize=false -Dbuildtype=release -Dtests=disabled $(MESON_OPTS)
TEST_OPTS    := -Dsanitize=true -Dbuildtype=debugoptimized $(MESON_OPTS)
# The product: optimized, installed into build/ (what make run, make bench and users get).
MESON_DIR := $(BUILD)/meson
# The sanitized tree make test builds and tests, installed into build/test.
TEST_PREFIX := $(BUILD)/test
TEST_DIR    := $(TEST_PREFIX)/meson
# make install: the product's options, configured for PREFIX (binaries embed their prefix in
# rpaths and in the plugin/model fallback paths, so an install elsewhere is built for it).
# Same depth as build/meson so the first configure can start from a copy of the product's
# objects (meson writes source paths relative to the build folder).
INSTALL_DIR := $(BUILD)/install
STAGE       := $(BUILD)/stage
PREFIX  ?= /usr/local
DESTDIR ?=
MODEL_DIR ?= $(CURDIR)/.cache/models
FUZZ_SECONDS ?= 600
# The aarch64 cross build (make cross-arm64): no sanitizers (the tests run under qemu-user),
# optimized like the tested tree; OpenCL and CUDA plugins, the torch plugin and the Python
# bindings (the build machine's libtorch and python3-dev are x86_64 only) are not cross-built.
ARM64_PREFIX := $(BUILD)/arm64
ARM64_DIR    := $(ARM64_PREFIX)/meson
ARM64_OPTS   := --cross-file=$(CURDIR)/scripts/cross/aarch64-linux-gnu.ini -Dsanitize=false \
                -Dbuildtype=debugoptimized -Dman=disabled -Dopencl=disabled -Dcuda=disabled \
                -Dtorch=disabled -Dpython=disabled $(MESON_OPTS)

# install SRC DST: copy the staged prefix SRC into DST and write DST/share/funk/install-manifest:
#   "f PATH" every file or link installed, "d PATH" every folder that did not exist before
#   (kept from an earlier manifest at DST); files of an earlier install that are gone now are
#   removed. uninstall DST: remove the "f" entries, then the "d" folders that are empty.
define INSTALL_TREE_SH
set -euo pipefail
mode=$$1 man=share/funk/install-manifest
if [ "$$mode" = install ]; then
  src=$$2 dst=$$3 new=$$(mktemp)
  mkdir -p "$$src/share/funk"
  (cd "$$src" && find . -mindepth 1 -type d | sed 's|^\./||' | sort) | while read -r d; do
    [ -d "$$dst/$$d" ] || echo "d $$d"; done >"$$new"
  [ -f "$$dst/$$man" ] && grep '^d ' "$$dst/$$man" >>"$$new" || true
  (cd "$$src" && find . \( -type f -o -type l \) | sed 's|^\./|f |' | sort) >>"$$new"
  echo "f $$man" >>"$$new"
  if [ -f "$$dst/$$man" ]; then
    grep '^f ' "$$dst/$$man" | sort | comm -23 - <(grep '^f ' "$$new" | sort) | cut -c3- |
      while read -r f; do rm -f "$$dst/$$f"; done
  fi
  sort -u "$$new" -o "$$src/$$man"; rm -f "$$new"
  mkdir -p "$$dst"
  cp -a "$$src/." "$$dst/"
  echo "installed $$(grep -c '^f ' "$$dst/$$man") files into $$dst (manifest: $$dst/$$man)"
else
  dst=$$2
  [ -f "$$dst/$$man" ] || { echo "uninstall: no $$dst/$$man: nothing installed there by make install" >&2; exit 1; }
  list=$$(mktemp); cp "$$dst/$$man" "$$list"
  if grep -vE '^[fd] [^/]' "$$list" | grep -q . || grep -qE '(^[fd] |/)\.\.(/|$$)' "$$list"; then
    echo "uninstall: $$dst/$$man has entries outside the prefix; refusing" >&2; rm -f "$$list"; exit 1; fi
  # An installed module's bytecode (python3 writes __pycache__/NAME.cpython-3X.pyc next to it
  # when it may) goes with it.
  grep '^f ' "$$list" | cut -c3- | while read -r f; do rm -f "$$dst/$$f"; case $$f in *.py)
    p=$$dst/$$(dirname "$$f")/__pycache__; rm -f "$$p/$$(basename "$$f" .py)".cpython-*.pyc
    rmdir "$$p" 2>/dev/null || true;; esac; done
  grep '^d ' "$$list" | cut -c3- | sort -r | while read -r d; do
    rmdir "$$dst/$$d" 2>/dev/null || [ ! -d "$$dst/$$d" ] || echo "uninstall: kept $$dst/$$d (not empty)"; done
  echo "removed $$(grep -c '^f ' "$$list") files from $$dst"; rm -f "$$list"
fi
endef
export INSTALL_TREE_SH

.PHONY: all build deps models test run bench fuzz clean format install uninstall \
        check-install deb check-deb build-test cross-arm64 test-arm64

all: build

deps:
	@scripts/deps.sh

models: deps
	@scripts/models.sh

# setup DIR PREFIX OPTIONS: configure once, reconfigure only when the options changed.
define meson_setup
	@opts="--prefix=$(2) $(3)"; \
	if [ ! -f $(1)/build.ninja ]; then \
	  echo "meson setup $(1) $$opts"; meson setup $(1) $$opts || exit 1; \
	elif [ "$$(cat $(1)/funk-make-options 2>/dev/null)" != "$$opts" ]; then \
	  echo "meson setup --reconfigure $(1) $$opts"; meson setup --reconfigure $(1) $$opts || exit 1; \
	fi; \
	echo "$$opts" >$(1)/funk-make-options
endef

build:
	$(call meson_setup,$(MESON_DIR),$(BUILD),$(PRODUCT_OPTS))
	meson compile -C $(MESON_DIR)
	meson install -C $(MESON_DIR) --no-rebuild --quiet

build-test:
	$(call meson_setup,$(TEST_DIR),$(TEST_PREFIX),$(TEST_OPTS))
	meson compile -C $(TEST_DIR)
	meson install -C $(TEST_DIR) --no-rebuild --quiet

test: deps models
	$(MAKE) build-test
	FUNK_PREFIX=$(TEST_PREFIX) scripts/run-tests.sh $(TEST_DIR)

cross-arm64: deps
	$(call meson_setup,$(ARM64_DIR),$(ARM64_PREFIX),$(ARM64_OPTS))
	meson compile -C $(ARM64_DIR)
	meson install -C $(ARM64_DIR) --no-rebuild --quiet

test-arm64: cross-arm64
	FUNK_PREFIX=$(ARM64_PREFIX) scripts/run-tests.sh $(ARM64_DIR) --suite arm64

run: deps models
	$(MAKE) build
	FUNK_PREFIX=$(BUILD) scripts/demo.sh

bench: deps models
	$(MAKE) build
	FUNK_PREFIX=$(BUILD) FUNK_MESON_DIR=$(MESON_DIR) bench/run.sh

# Fuzz targets need the sanitized tree (libFuzzer + ASan).
fuzz: deps
	$(MAKE) build-test
	MESON_DIR=$(patsubst $(CURDIR)/%,%,$(TEST_DIR)) FUNK_BUILD_ROOT=$(TEST_DIR) FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

# Installs through a staging folder so the manifest (share/funk/install-manifest) lists every
# file put there and every folder that did not exist before; make uninstall reads it back.
install:
	@if [ -d $(INSTALL_DIR) ] || [ ! -f $(MESON_DIR)/build.ninja ]; then :; else \
	  echo "install: starting $(INSTALL_DIR) from a copy of $(MESON_DIR)"; \
	  cp -a $(MESON_DIR) $(INSTALL_DIR) && rm -f $(INSTALL_DIR)/funk-make-options; fi
	$(call meson_setup,$(INSTALL_DIR),$(abspath $(PREFIX)),$(PRODUCT_OPTS))
	meson compile -C $(INSTALL_DIR)
	rm -rf $(STAGE)
	meson install -C $(INSTALL_DIR) --no-rebuild --quiet --destdir $(STAGE)
	@m=$(MODEL_DIR); d=$(STAGE)$(abspath $(PREFIX))/share/funk/models; \
	if [ -s $$m/centernet.onnx ] && [ -s $$m/textdir.onnx ]; then mkdir -p $$d && \
	  cp $$m/centernet.onnx $$m/coco80.txt $$m/textdir.onnx $$m/textdir.txt $$d/ && \
	  for f in movenet.onnx selfie.onnx; do [ ! -s $$m/$$f ] || cp $$m/$$f $$d/; done; \
	else echo "install: WARNING: no models in $$m (run make models first): classify and detect will need FUNK_MODEL_DIR"; fi
	@bash -c "$$INSTALL_TREE_SH" install-tree install $(STAGE)$(abspath $(PREFIX)) $(DESTDIR)$(abspath $(PREFIX))

uninstall:
	@bash -c "$$INSTALL_TREE_SH" install-tree uninstall $(DESTDIR)$(abspath $(PREFIX))

check-install: deps models
	tests/install/check-install.sh

deb: models
	rm -rf $(BUILD)/deb
	$(MAKE) install PREFIX=/usr DESTDIR=$(BUILD)/deb/root
	debian/build-debs.sh $(BUILD)/deb/root $(BUILD)/deb

check-deb: deps models
	tests/install/check-deb.sh

format:
	git ls-files '*.c' '*.h' '*.cpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD)

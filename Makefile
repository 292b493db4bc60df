# funk top-level driver: Meson does the building; this file names the few commands people type.
#   make         build everything (host code with ASan+UBSan) into build/{bin,lib/funk,unikernels}
#   make test    install missing Debian packages, build, run every test (unit + end-to-end)
#   make run     install, build, run the most complete end-to-end demo
#   make bench   build an optimized tree (build/release) and print the benchmark tables
#   make fuzz    run the fuzz targets for longer (FUZZ_SECONDS, default 600)

BUILD     ?= $(CURDIR)/build
MESON_DIR := $(BUILD)/meson
RELEASE   ?= $(BUILD)/release
MESON_REL := $(RELEASE)/meson
FUZZ_SECONDS ?= 600

.PHONY: all build deps models test run bench fuzz clean format

all: build

deps:
	@scripts/deps.sh

models: deps
	@scripts/models.sh

$(MESON_DIR)/build.ninja:
	meson setup $(MESON_DIR) --prefix=$(BUILD) -Dsanitize=true

build: $(MESON_DIR)/build.ninja
	meson compile -C $(MESON_DIR)
	meson install -C $(MESON_DIR) --no-rebuild --quiet

test: deps models
	$(MAKE) build
	scripts/run-tests.sh $(MESON_DIR)

run: deps models
	$(MAKE) build
	scripts/demo.sh

$(MESON_REL)/build.ninja:
	meson setup $(MESON_REL) --prefix=$(RELEASE) -Dsanitize=false -Dbuildtype=release -Dtests=disabled

bench: deps models $(MESON_REL)/build.ninja
	meson compile -C $(MESON_REL)
	meson install -C $(MESON_REL) --no-rebuild --quiet
	FUNK_PREFIX=$(RELEASE) bench/run.sh

fuzz: deps build
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

format:
	git ls-files '*.c' '*.h' '*.cpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD)

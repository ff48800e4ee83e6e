# Two commands do all set-up on a fresh machine:
#   make demo   # the whole pipeline on the embedded demo corpus, offline
#   make test   # the test suite (what CI runs)
# Both create .venv and install ltrl with its extras on first use, every distribution at
# the version pinned in constraints.txt (the versions tested; torch is the CPU build on
# these machines, and GPU users bring their own: README, "Set-up"). pip itself is pinned
# here. The test suite checks that constraints.txt pins everything ltrl resolves to.
# `make bench` measures ltrl beside its peers into docs/performance.md (needs
# ../shared/data; AUTHORS_SERVER=PATH/launch_server.py adds the authors' reward server).

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
EXTRAS ?= index,train,stats,dev,tensorboard,wandb,trackio
PIP_VERSION := 26.3

.PHONY: demo test install constraints man bench bench-scale clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q pip==$(PIP_VERSION)
	$(PY) -m pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	$(PY) -m ltrl_cli.manpages install  # an editable install leaves out the man pages: `man ltrl-walk`
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash examples/demo.sh

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

# Refresh constraints.txt from what $(VENV) has installed. After upgrading something in it
# (`$(PY) -m pip install -U transformers`) and seeing `make test` pass, run this and commit
# the file: the new versions are then what every `make demo` and `make test` installs.
constraints: $(STAMP)
	$(PY) -m ltrl_cli.constraints freeze > constraints.txt.new
	mv constraints.txt.new constraints.txt
	touch $(STAMP)

bench: $(STAMP)
	$(PY) bench/peers.py $(if $(AUTHORS_SERVER),--authors-server $(AUTHORS_SERVER))

# How each stage grows with the corpus, 10k to 1M generated pages, projected to KILT: about
# 50 minutes on an idle 2-core VM, ~11 GB of scratch under ../scale-work (SCALE_ARGS: e.g. --sizes 10000 100000).
bench-scale: $(STAMP)
	$(PY) bench/bench_scale.py $(SCALE_ARGS)

man: $(STAMP)
	$(PY) -m ltrl_cli.manpages man
	$(PY) -m ltrl_cli.manpages install

clean:
	rm -rf $(VENV) work

# Two commands do all set-up on a fresh machine:
#   make demo   # the whole pipeline on the embedded demo corpus, offline
#   make test   # the test suite (what CI runs)
# Both create .venv and install ltrl with its extras on first use. torch is pinned
# through constraints.txt (the CPU build on these machines); GPU users bring their own.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
EXTRAS ?= index,train,stats,dev

.PHONY: demo test install man bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash examples/demo.sh

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

man: $(STAMP)
	$(PY) -m ltrl_cli.manpages man

clean:
	rm -rf $(VENV) work

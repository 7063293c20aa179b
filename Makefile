# Thin wrappers around install.sh; PREFIX and DESTDIR as usual.
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: build install uninstall generate test
build:
	swift build -c release --product vfio-warden

install: build
	./install.sh --prefix "$(PREFIX)" $(if $(DESTDIR),--destdir "$(DESTDIR)") --binary .build/release/vfio-warden $(INSTALL_FLAGS)

uninstall:
	./install.sh --uninstall --prefix "$(PREFIX)" $(if $(DESTDIR),--destdir "$(DESTDIR)")

# Completions, man page and the example udev rules, from the CLI definitions.
generate:
	contrib/generate.sh

test:
	Tests/run

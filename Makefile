# Thin wrappers around install.sh and contrib/debian/build-deb.sh; PREFIX and DESTDIR as usual.
# The binary is built with the Swift runtime linked in (--static-swift-stdlib): a host needs no Swift toolchain.
PREFIX ?= /usr/local
DESTDIR ?=
SWIFT_BUILD_FLAGS ?= -c release --static-swift-stdlib
# Container images (make image): the tags contrib/kubernetes/vfio-warden-daemonset.yaml names.
CONTAINER ?= podman
IMAGE ?= registry.example.com/vfio-warden
VERSION = $(shell $(BINARY) --version)
BINARY = $(shell swift build $(SWIFT_BUILD_FLAGS) --show-bin-path)/vfio-warden

.PHONY: build install uninstall deb image generate test
build:
	swift build $(SWIFT_BUILD_FLAGS) --product vfio-warden

install: build
	./install.sh --prefix "$(PREFIX)" $(if $(DESTDIR),--destdir "$(DESTDIR)") --binary "$(BINARY)" $(INSTALL_FLAGS)

uninstall:
	./install.sh --uninstall --prefix "$(PREFIX)" $(if $(DESTDIR),--destdir "$(DESTDIR)")

# dist/vfio-warden_VERSION_ARCH.deb (contrib/debian/build-deb.sh; needs dpkg-dev). Tests/Deb/run tests it.
deb: build
	contrib/debian/build-deb.sh --binary "$(BINARY)" --output dist

# The agent's image and the node-labels sidecar's (with kubectl), from dist/'s package (Containerfile).
image: deb
	$(CONTAINER) build -f Containerfile --target agent -t $(IMAGE):$(VERSION) .
	$(CONTAINER) build -f Containerfile --target tools -t $(IMAGE)-tools:$(VERSION) .

# Completions, man page and the example udev rules, from the CLI definitions.
generate:
	contrib/generate.sh

test:
	Tests/run

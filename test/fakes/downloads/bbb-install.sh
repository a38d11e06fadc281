#!/usr/bin/env bash
# What the fake wget and curl serve for bbb-install.sh: hands over to the fake installer on the test PATH,
# telling it the shell options it was started with (`bash FILE` runs the real one without -e; see the fake).
BBB_INSTALL_SHELL_OPTIONS="$-" exec fake-bbb-install "$@"

#!/usr/bin/env bash
# What the fake wget and curl serve for bbb-install.sh: hands over to the fake installer on the test PATH.
exec fake-bbb-install "$@"

#!/usr/bin/env bash
# Regenerates man/bedside.1 and man/bedside-server.1 from the command definitions, with
# swift-argument-parser's generate-manual plugin. A test fails when a command, an option or a help text
# of the binaries is missing from these pages: run this after changing the command line.
set -euo pipefail
cd "$(dirname "$0")/.."
swift package --allow-writing-to-package-directory generate-manual --configuration debug --date 2026-12-04 --authors "Bedside"
for tool in bedside bedside-server; do
  cp ".build/plugins/GenerateManual/outputs/$tool/$tool.1" "man/$tool.1"
done

#!/usr/bin/env python3
"""Lists the tests a `swift test` log shows as started and not finished (passed or failed).

CI prints this when the test run outlives its limit, so that a hang names its test."""
import re
import sys

started = {}
with open(sys.argv[1], encoding="utf-8", errors="replace") as log:
    for number, line in enumerate(log, 1):
        if match := re.match(r"◇ Test (.*) started\.$", line.rstrip("\n")):
            # Not the run itself, nor each case of a parameterised test (its test is listed).
            if match.group(1) != "run" and not match.group(1).startswith("case "):
                started[match.group(1)] = number
        elif match := re.match(r"[✔✘━] Test (.*?)(?: with \d+ test cases?)? (?:passed|failed) after", line):
            started.pop(match.group(1), None)
for name, number in sorted(started.items(), key=lambda item: item[1]):
    print(f"  line {number}: {name}")
if not started:
    print("  none: every test that started has finished (the hang is after them, or in the build)")

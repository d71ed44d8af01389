import Testing

@testable import BedsideUI

/// Found by the `theme` fuzz target (Tests/Fuzz/Regressions/theme): TOMLKit's toml++ aborted the whole
/// process on malformed text; only the plain subset the files need reaches it now.
@Suite("TOML text TOMLKit must not see")
struct TOMLGuardTests {
    @Test(
        "text that made toml++ abort is refused with its line, not a crash",
        arguments: [
            ("[é]", 1), ("name = \"x\"\n[ ü]", 2), ("[[ß]]", 1), ("[\u{FFFD}", 1), ("[\nfg = \"#d78\"", 1), ("[[ \t\r\n", 1),
            ("namd \t=[ }\n", 1),
        ])
    func abortingText(text: String, line: Int) {
        #expect {
            try ThemeParser.parse(text)
        } throws: { error in
            (error as? ThemeError)?.description.hasPrefix("the theme is not valid: line \(line): ") == true
        }
    }

    @Test("what the theme and config files are made of passes, comments and Windows line endings included")
    func plainSubset() {
        let text = """
            # a comment
            name = "dark"   # trailing comment
            description = 'literal \\ text' \r
            [styles.text]
            fg = "#d0d0d0\\u00e9\\U0001F600\\t"
            bold = true
            [ "quoted key" . 'other' ]
            [[a-b_1]]
            sync-minutes = +15
            ratio = -1.5e3
            """
        #expect(TOMLGuard.problem(in: text) == nil)
    }

    @Test("what the subset leaves out is named", arguments: [
        ("key = [1, 2]", "line 1: a value is a \"string\", a number, true or false"),
        ("a = 1\r\nkey = { x = 1 }", "line 2: a value is a \"string\", a number, true or false"),
        ("d = \"\"\"\nx\n\"\"\"", "line 1: multi-line strings are not supported here"),
        ("s = \"open", "line 1: a string is not closed on its line"),
        ("s = \"\\x\"", "line 1: an unknown escape in a string"),
        ("when = 1979-05-27", "line 1: unexpected text after the value"),
        ("[]", "line 1: in a [table] name: a key is letters, digits, '_' and '-', or quoted"),
    ])
    func leftOut(text: String, problem: String) {
        #expect(TOMLGuard.problem(in: text) == problem)
    }
}

import Testing

@testable import BedsideUI

/// Found by the `theme` fuzz target (Tests/Fuzz/Regressions/theme): TOMLKit's toml++ aborted the whole
/// process on a table header starting with a character that cannot start a key.
@Suite("TOML text TOMLKit must not see")
struct TOMLGuardTests {
    @Test("a theme whose table name starts with a non-ASCII letter, or is missing before the line ends, is refused, not a crash",
        arguments: ["[é]", "[ ü]\nfg = \"#000000\"", "name = \"x\"\n[[ß]]", "[\u{FFFD}", "[\nfg = \"#d78\"", "[[ \t\r\n"])
    func nonASCIITableName(text: String) {
        #expect {
            try ThemeParser.parse(text)
        } throws: { error in
            (error as? ThemeError)?.description.contains("a table name must start with a letter") == true
        }
    }

    @Test("headers TOML allows pass the guard, so real files still reach TOMLKit")
    func validHeaders() {
        #expect(TOMLGuard.problem(in: "[styles.text]\n[ \"quoted\" ]\n[[a-b_1]]\n  ['x']\nkey = [1, 2]\n[]") == nil)
        #expect(TOMLGuard.problem(in: "a = 1\r\n[é]") == "line 2: a table name must start with a letter, a digit, '_', '-' or a quote")
    }
}

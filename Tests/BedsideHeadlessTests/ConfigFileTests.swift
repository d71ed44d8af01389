import Testing

@testable import BedsideApp

@Suite("Config file")
struct ConfigFileTests {
    @Test("a table name starting with a non-ASCII letter is an error naming the file and line, not a crash")
    func nonASCIITableName() {
        // Found by the theme fuzz target; config.toml goes through the same TOMLKit, which aborted on it.
        #expect(throws: ConfigError(description: "config.toml is not valid: line 2: in a [table] name: a key is letters, digits, '_' and '-', or quoted")) {
            try ConfigFile.parse("theme = \"dark\"\n[étage]\n", source: "config.toml")
        }
    }

    @Test("the documented keys are read from text")
    func documentedKeys() throws {
        let config = try ConfigFile.parse("server = \"https://bedside.example.org\"\nsync-minutes = 5\nkiosk-idle-minutes = 3\n", source: "c")
        #expect(config.server == "https://bedside.example.org")
        #expect(config.syncMinutes == 5)
        #expect(config.kioskIdleMinutes == 3)
    }
}

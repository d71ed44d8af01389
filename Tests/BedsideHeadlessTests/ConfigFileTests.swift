import BedsideCore
import BedsideSync
import BedsideUI
import Foundation
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

@Suite("Server refusals read by their stable code")
struct RefusalCodeTests {
    @Test("a code step's 401 reads by issue code: expired means log in again, login means retype; the server's words do not matter")
    func codeStep() {
        let core = ClientCore(configuration: ClientConfiguration(dataDirectory: URL(fileURLWithPath: "/nonexistent")), clock: ManualClock(epochMilliseconds: 0))
        let t = Localizer(.en)
        // German server text that never says "expired": the code decides.
        #expect(core.explain(.refused(status: 401, code: "expired", message: "Der Code ist nicht mehr gültig.", retryAfter: nil), step: .code)
            == t.text(.errorCodeExpired))
        // English text that does say "expired", with the code of a wrong try: still a wrong code.
        #expect(core.explain(.refused(status: 401, code: "login", message: "not expired, just wrong", retryAfter: nil), step: .code)
            == t.text(.errorCodeWrong))
    }
}

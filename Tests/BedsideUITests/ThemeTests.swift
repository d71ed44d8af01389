import Foundation
import Testing

@testable import BedsideUI

@Suite("Themes")
struct ThemeTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../themes").standardized

    func load(_ name: String) throws -> Theme {
        let text = try String(contentsOf: Self.directory.appendingPathComponent("\(name).toml"), encoding: .utf8)
        return try ThemeParser.parse(text, expectedName: name)
    }

    @Test("the built-in themes are listed: an empty list would pass every theme test")
    func themesListed() {
        #expect(Theme.builtInNames.count >= 6)
    }

    @Test("each built-in theme is a file that parses, with every role", arguments: Theme.builtInNames)
    func builtIns(_ name: String) throws {
        let theme = try load(name)
        #expect(theme.name == name)
        #expect(!theme.description.isEmpty)
    }

    @Test("the built-in themes are the files of themes/, default first (embed.sh lists the folder)")
    func listComplete() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".toml") }
        #expect(files.count >= 6)
        #expect(Set(files) == Set(Theme.builtInNames.map { "\($0).toml" }))
        #expect(Theme.builtInNames.first == "default")
        #expect(Set(Theme.builtInSources.keys) == Set(Theme.builtInNames))
    }

    @Test("high contrast: every coloured pair is 7:1 or more (WCAG AAA)")
    func highContrast() throws {
        let theme = try load("high-contrast")
        for role in StyleRole.allCases {
            let style = theme.style(role)
            let ratio = try #require(style.foreground.contrast(with: style.background), "\(role) must set both colours")
            #expect(ratio >= 7, "\(role): \(ratio)")
        }
    }

    @Test("dark and light: body text and statuses are readable (4.5:1 or more)", arguments: ["dark", "light"])
    func readable(_ name: String) throws {
        let theme = try load(name)
        for role in [StyleRole.text, .title, .accent, .ok, .warning, .error, .priorityRed, .priorityOrange, .selection, .input] {
            let style = theme.style(role)
            let ratio = try #require(style.foreground.contrast(with: style.background))
            #expect(ratio >= 4.5, "\(name) \(role): \(ratio)")
        }
    }

    @Test("mono uses no colour, and removing colour keeps the attributes")
    func mono() throws {
        #expect(!(try load("mono")).usesColor)
        let stripped = try load("dark").withoutColor
        #expect(!stripped.usesColor)
        #expect(stripped.style(.title).bold)
    }

    @Test("priorities differ by more than hue in every theme", arguments: Theme.builtInNames)
    func prioritiesDistinct(_ name: String) throws {
        let theme = try load(name)
        let red = theme.style(.priorityRed), orange = theme.style(.priorityOrange), gray = theme.style(.priorityGray)
        #expect(red != orange && orange != gray && red != gray)
    }

    @Test("a typo or a bad colour is reported with its key")
    func errors() {
        let complete = StyleRole.allCases.map { "[styles.\($0.rawValue)]" }.joined(separator: "\n")
        #expect(throws: ThemeError.self) { try ThemeParser.parse("name = \"x\"\ndescription = \"d\"\n[styles.txet]\n" + complete) }
        do {
            _ = try ThemeParser.parse("name = \"x\"\ndescription = \"d\"\n" + complete.replacingOccurrences(of: "[styles.text]", with: "[styles.text]\nfg = \"red\""))
            Issue.record("a named colour must be refused")
        } catch {
            #expect(error.description.contains("styles.text.fg"))
        }
        #expect(throws: ThemeError.self) { try ThemeParser.parse("name = \"x\"\ndescription = \"d\"\n[styles.text]") }
        #expect(throws: ThemeError.self) { try ThemeParser.parse("name = \"x\"\ndescription = \"d\"\ncolour = 1\n" + complete) }
    }
}

@Suite("Built-in themes")
struct BuiltInThemeTests {
    @Test("the binary carries exactly the files in themes/ (run themes/embed.sh after editing one)", arguments: Theme.builtInNames)
    func embedded(_ name: String) throws {
        let file = try String(contentsOf: ThemeTests.directory.appendingPathComponent("\(name).toml"), encoding: .utf8)
        #expect(Theme.builtInSources[name] == file)
        #expect(try Theme.builtIn(name).name == name)
    }

    /// A user theme folder with `files` (name → TOML text).
    func userFolder(_ files: [String: String]) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("themes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(to: folder.appendingPathComponent("\(name).toml"), atomically: true, encoding: .utf8) }
        return folder
    }

    @Test("a theme in the user's folder is found first, by its name; the built-in ones stay")
    func userThemes() throws {
        let mine = try #require(Theme.builtInSources["high-contrast"]).replacingOccurrences(of: "name = \"high-contrast\"", with: "name = \"mine\"")
        let folder = try userFolder(["mine": mine, "dark": mine.replacingOccurrences(of: "name = \"mine\"", with: "name = \"dark\"")])
        defer { try? FileManager.default.removeItem(at: folder) }
        let catalog = ThemeCatalog(userDirectory: folder)
        #expect(catalog.contains("mine"))
        #expect(try catalog.theme(named: "mine").name == "mine")
        #expect(try catalog.theme(named: "mine").style(.text) == (try Theme.builtIn("high-contrast")).style(.text))
        // The user's dark replaces the built-in one.
        #expect(try catalog.theme(named: "dark").style(.text) == (try Theme.builtIn("high-contrast")).style(.text))
        #expect(try catalog.theme(named: "light") == (try Theme.builtIn("light")))
        #expect(catalog.names.prefix(2) == ["dark", "mine"])
        #expect(Set(catalog.names) == Set(Theme.builtInNames + ["mine"]))
    }

    @Test("a broken, huge, misnamed or path-like user theme is a clear error naming the file, never a crash")
    func badUserThemes() throws {
        let folder = try userFolder([
            "broken": "name = \"broken\"\n[styles.text\n", "other": "name = \"something-else\"\n",
            "huge": String(repeating: "# padding\n", count: 10_000),
        ])
        defer { try? FileManager.default.removeItem(at: folder) }
        let catalog = ThemeCatalog(userDirectory: folder)
        for name in ["broken", "other", "huge"] {
            #expect(throws: ThemeError.self) { try catalog.theme(named: name) }
            do {
                _ = try catalog.theme(named: name)
            } catch {
                #expect(error.description.contains(folder.path), "\(error)")
            }
        }
        #expect(throws: ThemeError.self) { try catalog.theme(named: "../etc/passwd") }
        #expect(!catalog.contains("../etc/passwd"))
        #expect(throws: ThemeError(description: "there is no theme \"nosuch\" (themes: \(catalog.names.joined(separator: ", ")))")) {
            try catalog.theme(named: "nosuch")
        }
    }
}

@Suite("Plural forms")
struct PluralTests {
    @Test("one and many read right in English, Dutch and German", arguments: [
        (Language.en, "1", "1 needs attention"), (.en, "3", "3 need attention"), (.en, "0", "0 need attention"),
        (.nl, "1", "1 vraagt aandacht"), (.nl, "3", "3 vragen aandacht"),
        (.de, "1", "1 braucht Aufmerksamkeit"), (.de, "3", "3 brauchen Aufmerksamkeit"),
    ])
    func attention(_ language: Language, _ count: String, _ expected: String) {
        #expect(Localizer(language).text(.headerRejected, count) == expected)
    }

    @Test("a phrase with two counts picks each form by its own count; no (s) or (en) is left in any language")
    func twoCounts() {
        #expect(Localizer(.en).text(.cliReloggedIn, "pat@example.org", "1") == "Logged in again as pat@example.org; your 1 unsent measurement is kept.")
        #expect(Localizer(.en).text(.cliReloggedIn, "pat@example.org", "2") == "Logged in again as pat@example.org; your 2 unsent measurements are kept.")
        for language in Language.allCases {
            for (phrase, text) in Phrases.tables[language] ?? [:] {
                #expect(!text.contains("(s)") && !text.contains("(en)") && !text.contains("ung(en)"), "\(language) \(phrase): \(text)")
            }
        }
    }
}

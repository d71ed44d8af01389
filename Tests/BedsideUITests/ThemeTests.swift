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

    @Test("each built-in theme is a file that parses, with every role", arguments: Theme.builtInNames)
    func builtIns(_ name: String) throws {
        let theme = try load(name)
        #expect(theme.name == name)
        #expect(!theme.description.isEmpty)
    }

    @Test("no other theme files lie around unlisted")
    func listComplete() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".toml") }
        #expect(Set(files) == Set(Theme.builtInNames.map { "\($0).toml" }))
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
}

import BedsideCore
import BedsideTestSupport
import Foundation
import Testing

/// DESIGN: "global options work before or after the subcommand, for every subcommand", on the real binary.
@Suite("bedside global options, before and after every subcommand")
struct GlobalOptionTests {
    struct Run: Equatable {
        var status: Int32
        var errors: String
    }

    func run(_ arguments: [String], configHome: String = "/nonexistent") async throws -> Run {
        let finished = try await ChildProcess.run(
            KillDuringSyncTests.bedside, arguments,
            environment: ["LANG": "C.UTF-8", "HOME": FileManager.default.temporaryDirectory.path, "XDG_CONFIG_HOME": configHome])
        return Run(status: finished.status, errors: finished.errors)
    }

    /// What each command needs besides the global options; every command the binary declares must be here.
    static let required: [String: [String]] = [
        "tui": [], "demo": [], "login": [], "enrol": [], "measure add": ["weight", "80.5"], "measure list": [], "status": [], "sync": [],
        "logout": [], "export": ["--format", "csv"], "headless": ["/no/such/script.bedside"], "questionnaire preview": ["/no/such/form.json"],
        "questionnaire fill": ["/no/such/form.json", "--answers", "/no/such/answers.json"],
    ]

    /// Every leaf command of `bedside --experimental-dump-help`, and the options of the first.
    func declared() async throws -> (commands: [String], globalOptions: Set<String>) {
        let data = try await ChildProcess.run(KillDuringSyncTests.bedside, ["--experimental-dump-help"]).output
        let root = try #require(try JSONParser.parse(Array(data))["command"])
        var leaves: [(String, JSONValue)] = []
        func walk(_ command: JSONValue, _ path: [String]) {
            let subcommands = command["subcommands"]?.arrayValue ?? []
            if subcommands.isEmpty, !path.isEmpty, path != ["help"] { leaves.append((path.joined(separator: " "), command)) }
            for sub in subcommands { walk(sub, path + [sub["commandName"]?.stringValue ?? "?"]) }
        }
        walk(root, [])
        var options = Set<String>()
        for argument in leaves.first?.1["arguments"]?.arrayValue ?? [] where argument["kind"]?.stringValue == "option" {
            for name in argument["names"]?.arrayValue ?? [] where name["kind"]?.stringValue == "long" {
                options.insert("--" + (name["name"]?.stringValue ?? ""))
            }
        }
        return (leaves.map(\.0), options)
    }

    @Test("the test knows every command the binary declares, and the global options are the ones declared")
    func everyCommandCovered() async throws {
        let (commands, options) = try await declared()
        #expect(commands.count >= 11)
        #expect(Set(commands) == Set(Self.required.keys))
        #expect(options == ["--data-dir", "--server", "--ca-file", "--pin", "--theme", "--lang", "--config"])
    }

    @Test("every subcommand reads a global option the same before and after its name", arguments: Array(GlobalOptionTests.required.keys).sorted())
    func bothPlaces(_ command: String) async throws {
        let words = command.split(separator: " ").map(String.init)
        let rest = Self.required[command] ?? []
        let before = try await run(["--lang", "xx"] + words + rest)
        let after = try await run(words + rest + ["--lang", "xx"])
        #expect(before == after)
        #expect(before.status == 2 && before.errors.contains("--lang must be en, nl or de"), "\(before)")
        let joined = try await run(["--lang=xx"] + words + rest)
        #expect(joined == after)
    }

    @Test("bedside --data-dir D status and measure list --json find the data directory", arguments: [["status"], ["measure", "list", "--json"], ["sync"], ["measure", "add", "weight", "80.5"]])
    func dataDirectoryFirst(_ command: [String]) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("global-\(UUID().uuidString)").path
        let before = try await run(["--data-dir", directory] + command)
        let after = try await run(command + ["--data-dir", directory])
        #expect(before == after)
        #expect(before.status == 3 && before.errors.contains("There is no account in \(directory)"), "\(before)")
    }

    @Test("--theme finds a theme in $XDG_CONFIG_HOME/bedside/themes; an unknown one is refused with the list, a name with a path too")
    func userTheme() async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("theme-home-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let folder = home.appendingPathComponent("bedside/themes")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../themes/dark.toml"), encoding: .utf8)
        try source.replacingOccurrences(of: "name = \"dark\"", with: "name = \"ward-night\"").write(
            to: folder.appendingPathComponent("ward-night.toml"), atomically: true, encoding: .utf8)
        let directory = home.appendingPathComponent("data").path
        let mine = try await run(["--theme", "ward-night", "status", "--data-dir", directory], configHome: home.path)
        #expect(mine.status == 3 && mine.errors.contains("There is no account"), "\(mine)")
        let unknown = try await run(["--theme", "nosuch", "status", "--data-dir", directory], configHome: home.path)
        #expect(unknown.status == 2, "\(unknown)")
        #expect(unknown.errors.contains("There is no theme \"nosuch\"") && unknown.errors.contains("ward-night") && unknown.errors.contains("high-contrast"), "\(unknown)")
        let path = try await run(["--theme", "../x", "status", "--data-dir", directory], configHome: home.path)
        #expect(path.status == 2 && path.errors.contains("--theme takes a theme's name"), "\(path)")
    }
}

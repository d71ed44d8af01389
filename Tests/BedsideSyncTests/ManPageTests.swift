import BedsideCore
import BedsideTestSupport
import Foundation
import Testing

/// `man/bedside.1` and `man/bedside-server.1` are generated from the command definitions
/// (`man/generate.sh`); this keeps them current: every command, option and help text the binaries
/// declare must be in their page.
@Suite("man pages")
struct ManPageTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    /// Letters and digits only, lower case: roff's line breaks and escapes do not count.
    static func normalized(_ text: String) -> String {
        String(text.lowercased().unicodeScalars.filter { $0.properties.isAlphabetic || ("0"..."9").contains($0) }.map(Character.init))
    }

    func declared(_ tool: String) async throws -> [(kind: String, text: String)] {
        let executable = URL(fileURLWithPath: KillDuringSyncTests.bedside).deletingLastPathComponent().appendingPathComponent(tool).path
        let data = try await ChildProcess.run(executable, ["--experimental-dump-help"]).output
        var found: [(String, String)] = []
        func walk(_ command: JSONValue) {
            if let name = command["commandName"]?.stringValue { found.append(("command", name)) }
            if let abstract = command["abstract"]?.stringValue { found.append(("abstract", abstract)) }
            for argument in command["arguments"]?.arrayValue ?? [] {
                for name in argument["names"]?.arrayValue ?? [] where name["kind"]?.stringValue == "long" {
                    found.append(("option", "--" + (name["name"]?.stringValue ?? "")))
                }
                if let help = argument["abstract"]?.stringValue, !help.isEmpty { found.append(("help", help)) }
            }
            for sub in command["subcommands"]?.arrayValue ?? [] { walk(sub) }
        }
        walk(try JSONParser.parse(Array(data))["command"] ?? .null)
        return found
    }

    @Test("every command, option and help text of the binary is in its man page (run man/generate.sh after changing them)", arguments: ["bedside", "bedside-server"])
    func current(_ tool: String) async throws {
        let page = try String(contentsOf: Self.root.appendingPathComponent("man/\(tool).1"), encoding: .utf8)
        let text = Self.normalized(page)
        let items = try await declared(tool)
        #expect(items.count > 20)
        for item in items where item.text != "help" {
            // Options as roff writes them (.Fl -data-dir), everything else by its words.
            let present = item.kind == "option" ? page.contains("Fl -" + item.text.dropFirst(2)) : text.contains(Self.normalized(item.text))
            #expect(present, "\(item.kind) \(item.text) is not in man/\(tool).1")
        }
    }
}

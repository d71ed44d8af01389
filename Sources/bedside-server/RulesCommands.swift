import ArgumentParser
import BedsideCore
import BedsideServerKit
import Foundation

/// `bedside-server rules`: the alert rules that apply to a patient, and their care programme.
struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules", abstract: "Show or set a patient's alert rules (a care programme's, or their own).",
        subcommands: [ShowRulesCommand.self, SetRulesCommand.self], defaultSubcommand: ShowRulesCommand.self)
}

struct ShowRulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print the rules as JSON: a patient's (with --patient), or a programme's defaults (with --programme), or the programme names.")

    @OptionGroup var options: ServerOptions

    @Option(help: "E-mail of the patient.")
    var patient: String?

    @Option(help: "A care programme: default, heart-failure, copd, diabetes.")
    var programme: String?

    func run() async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if let patient {
            let store = try await options.openServerStore()
            try await administering {
                let current = try await ServerAdministration(store: store).rules(patientEmail: patient)
                print(String(decoding: try encoder.encode(current.rules), as: UTF8.self))
                let source = current.own
                    ? "\(patient)'s own rules (based on the \(current.rules.programme) programme; `rules set --programme` returns to its rules)."
                    : "\(patient) follows the \(current.rules.programme) programme's rules."
                FileHandle.standardError.write(Data((source + "\n").utf8))
            }
        } else if let programme {
            guard let rules = VitalSignRules.programme(programme) else {
                throw ValidationError("Unknown programme '\(programme)'. Choose one of: \(VitalSignRules.programmeNames.joined(separator: ", ")).")
            }
            print(String(decoding: try encoder.encode(rules), as: UTF8.self))
        } else {
            print("Programmes: \(VitalSignRules.programmeNames.joined(separator: ", ")). Use --patient E or --programme P to see the rules.")
        }
    }
}

struct SetRulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Put a patient in a care programme, or give them rules of their own.",
        discussion: """
            --file takes the JSON that `rules show` prints, adjusted for the patient (e.g. a higher systolic \
            band for someone whose usual pressure is high). It is checked before anything is kept.
            """)

    @OptionGroup var options: ServerOptions

    @Option(help: "E-mail of the patient.")
    var patient: String

    @Option(help: "default, heart-failure, copd or diabetes (the patient's own rules, if any, give way to it).")
    var programme: String?

    @Option(help: "The patient's own rules: a JSON file as `rules show` prints.", completion: .file())
    var file: String?

    func validate() throws {
        guard (programme == nil) != (file == nil) else { throw ValidationError("Give either --programme or --file.") }
    }

    func run() async throws {
        let store = try await options.openServerStore()
        if let programme {
            try await administering {
                try await ServerAdministration(store: store).setProgramme(programme, patientEmail: patient)
                print("\(patient) now follows the \(programme) rules.")
            }
            return
        }
        guard let file, let data = FileManager.default.contents(atPath: file) else {
            throw ValidationError("Cannot read \(file ?? "the file").")
        }
        let rules: VitalSignRules
        do {
            rules = try JSONDecoder().decode(VitalSignRules.self, from: data)
        } catch let error as DecodingError {
            throw ValidationError("\(file) is not a rules file like `rules show` prints: \(Self.explain(error))")
        }
        try await administering {
            try await ServerAdministration(store: store).setOwnRules(rules, patientEmail: patient)
            print("\(patient) now has rules of their own, based on the \(rules.programme) programme.")
        }
    }

    /// Where in the file a decoding error is, in words.
    static func explain(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is missing."
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context.codingPath)) has the wrong type (\(context.debugDescription))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "it is not JSON." : "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

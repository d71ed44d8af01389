import ArgumentParser
import BedsideCore
import BedsideServerKit
import Foundation

/// `bedside-server rules`: the alert rules that apply to a patient, and their care programme.
struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules", abstract: "Show or set a patient's alert rules (by care programme).",
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
            let store = try options.openStore()
            try await administering {
                let rules = try await ServerAdministration(store: store).rules(patientEmail: patient)
                print(String(decoding: try encoder.encode(rules), as: UTF8.self))
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
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Put a patient in a care programme, whose rules then apply.")

    @OptionGroup var options: ServerOptions

    @Option(help: "E-mail of the patient.")
    var patient: String

    @Option(help: "default, heart-failure, copd or diabetes.")
    var programme: String

    func run() async throws {
        let store = try options.openStore()
        try await administering {
            try await ServerAdministration(store: store).setProgramme(programme, patientEmail: patient)
            print("\(patient) now follows the \(programme) rules.")
        }
    }
}

import ArgumentParser
import BedsideCore
import BedsideServerKit
import Foundation

extension Role: ExpressibleByArgument {}

/// Runs an administrative change, showing a refusal as a usage error (exit 2 with the reason).
func administering(_ work: () async throws -> Void) async throws {
    do {
        try await work()
    } catch let error as AdministrationError {
        throw ValidationError(error.description)
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage accounts.",
        subcommands: [
            AddUserCommand.self, PasswordCommand.self, ListUsersCommand.self, DisableUserCommand.self, EnableUserCommand.self,
            InviteUserCommand.self,
        ])
}

struct AddUserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Create an account (patient, clinician or admin).",
        discussion: "Passwords need 12+ characters, one that is not a letter, and must not be a common password.")

    @OptionGroup var options: ServerOptions

    @Option(help: "patient, clinician or admin.")
    var role: Role

    @Option(help: "E-mail address; the login name, and where login codes go.")
    var email: String

    @Option(help: "Full name as shown to clinicians.")
    var name: String?

    @Option(help: "Birth date (YYYY-MM-DD), for patients.")
    var birthDate: String?

    @Option(help: "The language of e-mail when the app does not say (en, nl or de; default en).")
    var lang: String?

    @Option(help: "A patient's phone number, shown to their nurses beside alerts (for example \"+31 6 1234 5678\").")
    var phone: String?

    @Flag(help: "Read the password from the first line of standard input.")
    var passwordStdin = false

    func run() async throws {
        let password = try PasswordInput.read(fromStandardInput: passwordStdin, prompt: "Password for \(email): ")
        let store = try await options.openServerStore()
        try await administering {
            let account = try await ServerAdministration(store: store).addUser(
                email: email, role: role, password: password, name: name, birthDate: birthDate, language: lang, phone: phone)
            var line = "Created \(account.role.rawValue) \(account.email)"
            if let patient = account.patientID { line += " (Patient/\(patient))" }
            if let practitioner = account.practitionerID { line += " (Practitioner/\(practitioner))" }
            print(line)
        }
    }
}

struct PasswordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "password", abstract: "Set a new password for an account and end its sessions.")

    @OptionGroup var options: ServerOptions

    @Option(help: "E-mail address of the account.")
    var email: String

    @Flag(help: "Read the password from the first line of standard input.")
    var passwordStdin = false

    func run() async throws {
        let password = try PasswordInput.read(fromStandardInput: passwordStdin, prompt: "New password for \(email): ")
        let store = try await options.openServerStore()
        try await administering {
            try await ServerAdministration(store: store).setPassword(email: email, password: password)
            print("Password changed for \(email); every session of the account has ended.")
        }
    }
}

struct InviteUserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invite", abstract: "E-mail an invited patient a new enrolment code (the earlier one stops working).",
        discussion: "For a patient an EMR enrolled who has not yet set a password, when the first code expired (after 7 days) or went astray. The mail goes where serve's would: the same --smtp-* options, or <data-dir>/mail/new/.")

    @OptionGroup var options: ServerOptions

    @Option(help: "E-mail address of the invited patient.")
    var email: String

    @OptionGroup var mail: MailOptions

    func run() async throws {
        var configuration = options.configuration
        mail.apply(to: &configuration)
        let store = try await options.openServerStore()
        try await administering {
            try await ServerAdministration(store: store).reinvite(email: email, mailer: configuration.makeMailer())
            print("Sent \(email) a new enrolment code, valid \(Invitations.lifetime / 86_400_000) days; the earlier one no longer works.")
        }
    }
}

struct ListUsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List accounts.")

    @OptionGroup var options: ServerOptions

    func run() async throws {
        let store = try await options.openServerStore()
        let accounts = try await store.read { db in try db.accounts() }
        for account in accounts {
            let resource = account.patientID.map { "Patient/\($0)" } ?? account.practitionerID.map { "Practitioner/\($0)" } ?? "-"
            let state = account.disabledAt == nil ? "" : " (disabled)"
            print("\(account.role.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) \(account.email.padding(toLength: 36, withPad: " ", startingAt: 0)) \(resource)\(state)")
        }
    }
}

struct TeamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "team", abstract: "Manage care teams.", subcommands: [AddTeamMemberCommand.self, RemoveTeamMemberCommand.self])
}

struct AddTeamMemberCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Put a patient in a clinician's care team.")

    @OptionGroup var options: ServerOptions

    @Option(help: "E-mail of the clinician.")
    var clinician: String

    @Option(help: "E-mail of the patient.")
    var patient: String

    @Flag(help: "The clinician is responsible for the patient (named on the Patient; the kiosk's \"my patients\").")
    var responsible = false

    func run() async throws {
        let store = try await options.openServerStore()
        try await administering {
            try await ServerAdministration(store: store).addTeamMember(clinicianEmail: clinician, patientEmail: patient, responsible: responsible)
            print("\(patient) is now in the care team of \(clinician)\(responsible ? ", who is responsible for them" : "").")
        }
    }
}

struct AssignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assign", abstract: "Assign a questionnaire (a FHIR R4 Questionnaire JSON file) to a patient.")

    @OptionGroup var options: ServerOptions

    @Argument(help: "Questionnaire JSON file.", completion: .file(extensions: ["json"]))
    var questionnaire: String

    @Option(help: "E-mail of the patient.")
    var patient: String

    @Option(help: "Due date or date-time, e.g. 2026-12-01 or 2026-12-01T09:00:00+01:00.")
    var due: String?

    @Option(
        name: .customLong("value-set"),
        help: "A FHIR ValueSet JSON file the questionnaire takes answers from (answerValueSet); repeat for several.",
        completion: .file(extensions: ["json"]))
    var valueSets: [String] = []

    private func readJSON(_ path: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("Cannot read \(path).")
        }
        do {
            return try JSONParser.parse(Array(data))
        } catch {
            throw ValidationError("\(path) is not valid JSON: \(error)")
        }
    }

    func run() async throws {
        let json = try readJSON(questionnaire)
        let valueSetJSON = try valueSets.map(readJSON)
        var dueDate: FHIRDateTime?
        if let due {
            guard let parsed = FHIRDateTime(due), parsed.precision >= .day else {
                throw ValidationError("--due must be a date (2026-12-01) or a date-time with offset.")
            }
            dueDate = parsed
        }
        let store = try await options.openServerStore()
        try await administering {
            let (questionnaireID, taskID) = try await ServerAdministration(store: store).assign(
                questionnaire: json, patientEmail: patient, due: dueDate, valueSets: valueSetJSON)
            print("Assigned Questionnaire/\(questionnaireID) to \(patient) as Task/\(taskID).")
        }
    }
}

struct DisableUserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable", abstract: "Stop an account from logging in and end its sessions at once; its data stays.")

    @OptionGroup var options: ServerOptions

    @Option(help: "E-mail address of the account.")
    var email: String

    func run() async throws {
        let store = try await options.openServerStore()
        try await administering {
            try await ServerAdministration(store: store).setDisabled(true, email: email)
            print("\(email) is disabled; its sessions have ended. `user enable` lets it log in again.")
        }
    }
}

struct EnableUserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enable", abstract: "Let a disabled account log in again.")

    @OptionGroup var options: ServerOptions

    @Option(help: "E-mail address of the account.")
    var email: String

    func run() async throws {
        let store = try await options.openServerStore()
        try await administering {
            try await ServerAdministration(store: store).setDisabled(false, email: email)
            print("\(email) can log in again.")
        }
    }
}

struct RemoveTeamMemberCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Take a patient out of a clinician's care team; the clinician sees nothing of them from then on.")

    @OptionGroup var options: ServerOptions

    @Option(help: "E-mail of the clinician.")
    var clinician: String

    @Option(help: "E-mail of the patient.")
    var patient: String

    func run() async throws {
        let store = try await options.openServerStore()
        try await administering {
            try await ServerAdministration(store: store).removeTeamMember(clinicianEmail: clinician, patientEmail: patient)
            print("\(patient) is no longer in the care team of \(clinician).")
        }
    }
}

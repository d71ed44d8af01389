import ArgumentParser
import BedsideApp
import BedsideCore
import BedsideSync
import BedsideUI
import BedsideVault
import Foundation

/// Unlocks the account in the data directory with a password from the terminal or stdin.
func unlockedCore(_ options: GlobalOptions, passwordStdin: Bool) async throws -> ClientCore {
    ProcessHardening.apply()
    let configuration = try options.resolve()
    guard configuration.hasAccount else {
        complain(Localizer(configuration.language).text(.cliNoAccount, configuration.dataDirectory.path))
        throw Exit.locked
    }
    let core = try await claimedCore(configuration)
    let password = try PasswordReader.readLine(prompt: "Password: ", secret: true, fromStandardInput: passwordStdin)
    for action in await core.perform(.unlock(password: password)) {
        if case .unlockFailed(let message) = action {
            complain(message)
            throw Exit.locked
        }
    }
    return core
}

struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Log in: password, then the code that was e-mailed to you. Creates the encrypted local store.",
        discussion: "With --password-stdin the password is the first line of standard input and the code the second.")

    @OptionGroup var options: GlobalOptions

    @Option(help: "Your e-mail address.")
    var user: String

    @Flag(help: "Read the password (and then the code) from standard input.")
    var passwordStdin = false

    func run() async throws {
        ProcessHardening.apply()
        let configuration = try options.resolve()
        guard !configuration.server.isEmpty else { throw ValidationError("Which server? Pass --server https://... or set server in config.toml.") }
        let t = Localizer(configuration.language)
        let core = try await claimedCore(configuration)
        let password = try PasswordReader.readLine(prompt: "Password for \(user): ", secret: true, fromStandardInput: passwordStdin)
        if configuration.hasAccount {
            // Logging in again (the server ended the session) keeps everything here; another account may
            // not replace this one while it holds anything.
            try await unlockForLoginAgain(core, password: password, user: user, t: t, directory: configuration.dataDirectory.path)
        }
        for action in await core.perform(.requestCode(server: configuration.server, email: user, password: password)) {
            if case .loginFailed(let message) = action {
                complain(message)
                throw Exit.locked
            }
        }
        complain(t.text(.cliCodeSent, user))
        let code = try PasswordReader.readLine(prompt: "Code: ", secret: false, fromStandardInput: passwordStdin)
        try await reportLogin(await core.perform(.verifyCode(code: code.filter(\.isNumber))), core: core, user: user, configuration: configuration)
    }
}

/// What `login` and `enrol` print for the login's outcome (a refusal: exit 3), then the key is dropped.
private func reportLogin(_ actions: [Action], core: ClientCore, user: String, configuration: ClientConfiguration) async throws {
    let t = Localizer(configuration.language)
    for action in actions {
        switch action {
        case .loginFailed(let message):
            complain(message)
            throw Exit.locked
        case .loggedIn(let info):
            say(t.text(.cliLoggedIn, info.displayName, info.server))
            say(t.text(.cliDataKept, configuration.dataDirectory.path))
        case .attention(.reauthenticated):
            say(t.text(.cliReloggedIn, user, String(try await core.statusReport().unsent)))
        default: break
        }
    }
    await core.lock()
}

struct EnrolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enrol",
        abstract: "First login of a patient your care team invited: the code from the invitation e-mail, then a password you choose.",
        discussion: "With --password-stdin the enrolment code is the first line of standard input and the new password the second.")

    @OptionGroup var options: GlobalOptions

    @Option(help: "Your e-mail address (the one the invitation went to).")
    var user: String

    @Flag(help: "Read the enrolment code and the new password from standard input.")
    var passwordStdin = false

    func run() async throws {
        ProcessHardening.apply()
        let configuration = try options.resolve()
        guard !configuration.server.isEmpty else { throw ValidationError("Which server? Pass --server https://... (the address in your invitation).") }
        let t = Localizer(configuration.language)
        let core = try await claimedCore(configuration)
        if configuration.hasAccount {
            complain(t.text(.cliAccountExists, configuration.dataDirectory.path))
            throw Exit.failure
        }
        let code = try PasswordReader.readLine(prompt: t.text(.cliEnrolCode), secret: false, fromStandardInput: passwordStdin)
        let password = try PasswordReader.readLine(prompt: "New password for \(user): ", secret: true, fromStandardInput: passwordStdin)
        if !passwordStdin {
            let again = try PasswordReader.readLine(prompt: t.text(.cliPasswordAgain), secret: true, fromStandardInput: false)
            guard again == password else {
                complain(t.text(.cliPasswordsDiffer))
                throw Exit.failure
            }
        }
        try await reportLogin(
            await core.perform(.enrol(server: configuration.server, email: user, code: code, password: password)), core: core, user: user,
            configuration: configuration)
    }
}

/// Opens the account already here with the login's password, and refuses unless it is the same account.
private func unlockForLoginAgain(_ core: ClientCore, password: String, user: String, t: Localizer, directory: String) async throws {
    for action in await core.perform(.unlock(password: password)) {
        if case .unlockFailed = action {
            complain(t.text(.cliAccountExists, directory))
            throw Exit.failure
        }
    }
    let report = try await core.statusReport()
    guard report.email.lowercased() == user.lowercased() else {
        await core.lock()
        complain(report.unsent > 0 ? t.text(.cliOtherAccountHere, String(report.unsent), report.email) : t.text(.cliAccountExists, directory))
        throw Exit.failure
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Who is logged in, what is unsent, when it last synced.")

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Print JSON.")
    var json = false

    @Flag(help: "Read the password from standard input.")
    var passwordStdin = false

    func run() async throws {
        let core = try await unlockedCore(options, passwordStdin: passwordStdin)
        let report = try await core.statusReport()
        await core.lock()
        if json {
            var object = report.json.objectValue ?? [:]
            // What this very process runs with: no core dumps, not attachable, no core files.
            object["process"] = ["dumpable": .bool(ProcessHardening.isDumpable), "coreLimit": .number(Int(ProcessHardening.coreLimit))]
            sayJSON(JSONValue.object(object))
        } else {
            let t = Localizer(try options.resolve().language)
            say(t.text(.cliStatusWho, report.name, report.email, report.server))
            say(t.text(.cliStatusCounts, String(report.total), String(report.unsent), String(report.rejected)))
            let lastSync = report.lastSync.map { FHIRDateTime.format(epochMilliseconds: $0, utcOffsetSeconds: LocalZone.current.offset(at: $0)) }
            say(t.text(.cliStatusLastSync, lastSync ?? t.text(.cliNever)))
            say(t.text(.cliStatusData, report.dataDirectory))
        }
    }
}

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync", abstract: "Send what is waiting to the server now.",
        discussion: "Exit code 4 when the server cannot be reached: everything stays saved and is sent next time.")

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Read the password from standard input.")
    var passwordStdin = false

    @Option(help: "How often to try again when the server is busy (5xx, 429), with back-off honouring Retry-After.")
    var retries = 5

    func run() async throws {
        let core = try await unlockedCore(options, passwordStdin: passwordStdin)
        let before = try await core.statusReport()
        let t = Localizer(try options.resolve().language)
        complain(t.text(.cliSending, String(before.unsent)))
        var report = SyncReport()
        var sent = 0
        var failures = 0
        while true {
            report = await core.runSync { phase in
                switch phase {
                case .sending(let done, let total) where done > 0: complain(t.text(.cliSyncProgress, String(done), String(total)))
                case .receiving: complain(t.text(.cliSyncReceiving))
                default: break
                }
            }
            sent += report.sent
            // Only a busy server is worth waiting for here; offline is reported at once (exit 4), the queue kept.
            guard let error = report.error, error.isServerBusy, failures < retries else { break }
            failures += 1
            let delay = RetryPolicy.standard.delay(afterFailures: failures, retryAfterSeconds: error.retryAfter, randomUnit: Double.random(in: 0..<1))
            // A command is not left asleep for longer than the back-off's own cap because a server asked
            // (a Retry-After of a day, or of 2^63 seconds from a broken one): it stops and says so.
            guard delay <= RetryPolicy.standard.capMilliseconds else {
                complain(t.text(.cliRetryTooLong, core.explain(error), String((delay + 59_999) / 60_000)))
                break
            }
            complain(t.text(.cliRetrying, core.explain(error), String((delay + 999) / 1000)))
            try await Task.sleep(for: .milliseconds(delay))
        }
        let after = try await core.statusReport()
        await core.lock()
        say(t.text(.cliSyncSummary, String(sent), String(after.unsent), String(after.rejected)))
        if let error = report.error {
            if error.endsSession {
                complain(t.text(.cliSessionEnded, String(after.unsent)))
                throw Exit.locked
            }
            complain(t.text(.cliNotSynced, core.explain(error)))
            throw error.isOffline ? Exit.offline : Exit.failure
        }
    }
}

struct LogoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logout",
        abstract: "End the session on the server and remove every local file of the account.",
        discussion: "Refuses while measurements are unsent, unless --force. With --force and no password, the local data is destroyed without telling the server (the session expires there after 30 idle minutes).")

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Log out even if unsent measurements would be lost.")
    var force = false

    @Flag(help: "Read the password from standard input.")
    var passwordStdin = false

    func run() async throws {
        let configuration = try options.resolve()
        let t = Localizer(configuration.language)
        guard FileManager.default.fileExists(atPath: configuration.dataDirectory.path) else {
            say(t.text(.cliNothingToLogOut, configuration.dataDirectory.path))
            return
        }
        if force && !passwordStdin && isatty(STDIN_FILENO) != 1 {
            _ = try await claimedCore(configuration)
            do {
                try OwnedDirectory.destroyContents(configuration.dataDirectory)
            } catch {
                complain(error.description)
                throw Exit.failure
            }
            say(t.text(.cliForcedLocalOnly))
            return
        }
        let core = try await unlockedCore(options, passwordStdin: passwordStdin)
        let report = try await core.statusReport()
        if report.unsent > 0 && !force {
            await core.lock()
            complain(t.text(.cliUnsentRefuse, String(report.unsent)))
            throw Exit.failure
        }
        for action in await core.perform(.logout) {
            if case .logoutFailed(let message) = action {
                complain(message)
                throw Exit.failure
            }
        }
        say(t.text(.cliLoggedOut, configuration.dataDirectory.path))
    }
}

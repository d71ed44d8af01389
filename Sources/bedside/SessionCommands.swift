import ArgumentParser
import BedsideApp
import BedsideCore
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
    let password = try PasswordReader.readLine(prompt: "Password: ", secret: true, fromStandardInput: passwordStdin)
    let core = ClientCore(configuration: configuration, clock: SystemClock())
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
        if configuration.hasAccount {
            complain(t.text(.cliAccountExists, configuration.dataDirectory.path))
            throw Exit.failure
        }
        let core = ClientCore(configuration: configuration, clock: SystemClock())
        let password = try PasswordReader.readLine(prompt: "Password for \(user): ", secret: true, fromStandardInput: passwordStdin)
        for action in await core.perform(.requestCode(server: configuration.server, email: user, password: password)) {
            if case .loginFailed(let message) = action {
                complain(message)
                throw Exit.locked
            }
        }
        complain(t.text(.cliCodeSent, user))
        let code = try PasswordReader.readLine(prompt: "Code: ", secret: false, fromStandardInput: passwordStdin)
        for action in await core.perform(.verifyCode(code: code.filter(\.isNumber))) {
            switch action {
            case .loginFailed(let message):
                complain(message)
                throw Exit.locked
            case .loggedIn(let info):
                print(t.text(.cliLoggedIn, info.displayName, info.server))
                print(t.text(.cliDataKept, configuration.dataDirectory.path))
            default: break
            }
        }
        await core.lock()
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
            print(JSONValue.object(object).serializedString())
        } else {
            let t = Localizer(try options.resolve().language)
            print(t.text(.cliStatusWho, report.name, report.email, report.server))
            print(t.text(.cliStatusCounts, String(report.total), String(report.unsent), String(report.rejected)))
            let lastSync = report.lastSync.map { FHIRDateTime.format(epochMilliseconds: $0, utcOffsetSeconds: localUTCOffset()) }
            print(t.text(.cliStatusLastSync, lastSync ?? t.text(.cliNever)))
            print(t.text(.cliStatusData, report.dataDirectory))
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

    func run() async throws {
        let core = try await unlockedCore(options, passwordStdin: passwordStdin)
        let before = try await core.statusReport()
        let t = Localizer(try options.resolve().language)
        complain(t.text(.cliSending, String(before.unsent)))
        let outcome = await core.syncNow()
        let after = try await core.statusReport()
        await core.lock()
        print(t.text(.cliSyncSummary, String(max(0, before.unsent - after.unsent)), String(after.unsent), String(after.rejected)))
        if let error = outcome {
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
            print(t.text(.cliNothingToLogOut, configuration.dataDirectory.path))
            return
        }
        if force && !passwordStdin && isatty(STDIN_FILENO) != 1 {
            try SecureFiles.emptyDirectory(configuration.dataDirectory)
            print(t.text(.cliForcedLocalOnly))
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
        print(t.text(.cliLoggedOut, configuration.dataDirectory.path))
    }
}

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
        complain("There is no account in \(configuration.dataDirectory.path). Log in first: bedside login --server URL --user E-MAIL")
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
        if configuration.hasAccount {
            complain("An account is already set up in \(configuration.dataDirectory.path). Log out first (bedside logout).")
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
        complain("A 6-digit code was sent to \(user).")
        let code = try PasswordReader.readLine(prompt: "Code: ", secret: false, fromStandardInput: passwordStdin)
        for action in await core.perform(.verifyCode(code: code.filter(\.isNumber))) {
            switch action {
            case .loginFailed(let message):
                complain(message)
                throw Exit.locked
            case .loggedIn(let info):
                print("Logged in as \(info.displayName) at \(info.server).")
                print("Your data is kept encrypted in \(configuration.dataDirectory.path).")
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
            print("Logged in as \(report.name) <\(report.email)> at \(report.server)")
            print("Measurements: \(report.total), unsent: \(report.unsent), refused by the server: \(report.rejected)")
            print("Last sync: \(report.lastSync.map { FHIRDateTime.format(epochMilliseconds: $0, utcOffsetSeconds: localUTCOffset()) } ?? "never")")
            print("Data: \(report.dataDirectory)")
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
        complain("Sending \(before.unsent) change(s)…")
        let outcome = await core.syncNow()
        let after = try await core.statusReport()
        await core.lock()
        print("Sent \(max(0, before.unsent - after.unsent)), waiting \(after.unsent), refused by the server \(after.rejected).")
        if let error = outcome {
            complain("Not synced: \(error.description)")
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
        guard FileManager.default.fileExists(atPath: configuration.dataDirectory.path) else {
            print("Nothing to log out from: \(configuration.dataDirectory.path) does not exist.")
            return
        }
        if force && !passwordStdin && isatty(STDIN_FILENO) != 1 {
            try SecureFiles.emptyDirectory(configuration.dataDirectory)
            print("Local data destroyed. The server session was not revoked; it expires after 30 idle minutes.")
            return
        }
        let core = try await unlockedCore(options, passwordStdin: passwordStdin)
        let report = try await core.statusReport()
        if report.unsent > 0 && !force {
            await core.lock()
            complain("\(report.unsent) measurement(s) have not been sent and would be lost. Run `bedside sync` first, or use --force.")
            throw Exit.failure
        }
        for action in await core.perform(.logout) {
            if case .logoutFailed(let message) = action {
                complain(message)
                throw Exit.failure
            }
        }
        print("Logged out. All data of this account was removed from \(configuration.dataDirectory.path).")
    }
}

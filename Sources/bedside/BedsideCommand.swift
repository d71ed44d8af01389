import ArgumentParser
import BedsideApp
import BedsideCore
import BedsideTerminal
import BedsideUI
import BedsideVault
import Foundation

@main
struct BedsideCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bedside",
        abstract: "Remote patient monitoring in the terminal: record measurements, even offline; they reach your care team.",
        discussion: """
            Without a subcommand, opens the terminal app. Your data is kept encrypted in the data directory
            ($XDG_DATA_HOME/bedside/default) and removed completely when you log out.
            Exit codes: 0 ok, 1 failure, 2 usage, 3 locked or login refused, 4 offline (saved, will be sent later).
            """,
        version: BedsideVersion.current,
        subcommands: [
            TUICommand.self, DemoCommand.self, LoginCommand.self, EnrolCommand.self, MeasureCommand.self, StatusCommand.self, SyncCommand.self,
            LogoutCommand.self, ExportCommand.self, HeadlessCommand.self, QuestionnaireCommand.self,
        ],
        defaultSubcommand: TUICommand.self)

    /// As ArgumentParser's own entry point, except that a usage error exits with 2, as DESIGN.md and
    /// the README promise, not with its default 64.
    static func main() async {
        do {
            var command = try await asyncParseAsRoot(placement.reordered(Array(CommandLine.arguments.dropFirst())))
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            complain(fullMessage(for: error))
            Foundation.exit(2)
        }
    }
}

extension BedsideCommand {
    /// Global options before the subcommand are moved after it (see `GlobalOptionPlacement`).
    static var placement: GlobalOptionPlacement {
        func tree(_ command: any ParsableCommand.Type) -> GlobalOptionPlacement.Command {
            GlobalOptionPlacement.Command(command._commandName, command.configuration.subcommands.map(tree))
        }
        return GlobalOptionPlacement(valueOptions: GlobalOptions.valueOptions, commands: configuration.subcommands.map(tree))
    }
}

/// Options every command takes, before or after the subcommand.
struct GlobalOptions: ParsableArguments {
    /// Their long names (every one takes a value); a test compares them with what the parser declares.
    static let valueOptions: Set<String> = ["--data-dir", "--server", "--ca-file", "--pin", "--theme", "--lang", "--config"]

    @Option(name: .customLong("data-dir"), help: "Where this account's encrypted data lives (also BEDSIDE_DATA_DIR).", completion: .directory)
    var dataDirectory: String?

    @Option(help: "The server's address, e.g. https://bedside.example.org (also in config.toml).")
    var server: String?

    @Option(name: .customLong("ca-file"), help: "Trust this CA certificate (PEM), e.g. a development server's ca.pem.", completion: .file())
    var caFile: String?

    @Option(help: "Accept only this server key: sha256//<base64 of the SPKI hash>.")
    var pin: String?

    @Option(help: "Colour theme: default, dark, light, high-contrast, colorblind, mono, or your own NAME.toml in $XDG_CONFIG_HOME/bedside/themes (found first). NO_COLOR forces mono.")
    var theme: String?

    @Option(help: "Language: en, nl or de (default: from LANG).")
    var lang: String?

    @Option(name: .customLong("config"), help: "Configuration file (default $XDG_CONFIG_HOME/bedside/config.toml).", completion: .file())
    var configFile: String?

    func validate() throws {
        if let lang, Language(rawValue: lang) == nil { throw ValidationError("--lang must be en, nl or de.") }
        if let theme, !ThemeCatalog.isValidName(theme) {
            throw ValidationError("--theme takes a theme's name (letters, digits, - and _), not \"\(theme)\".")
        }
        if let server, !server.lowercased().hasPrefix("https://") { throw ValidationError("--server must start with https://.") }
    }

    /// The configuration: command line over environment over config file over defaults.
    func resolve() throws -> ClientConfiguration {
        let environment = ProcessInfo.processInfo.environment
        let file: ConfigFile
        do {
            file = try ConfigFile.load(configFile.map { URL(fileURLWithPath: $0) } ?? ClientConfiguration.defaultConfigFile())
        } catch {
            throw ValidationError(error.description)
        }
        let directory = dataDirectory ?? environment["BEDSIDE_DATA_DIR"]
        var configuration = ClientConfiguration(
            dataDirectory: directory.map { URL(fileURLWithPath: $0) } ?? ClientConfiguration.defaultDataDirectory(),
            server: server ?? file.server ?? "")
        configuration.transport.caFile = caFile ?? file.caFile
        configuration.transport.pinnedPublicKey = pin ?? file.pin
        configuration.language = lang.flatMap(Language.init(rawValue:)) ?? file.language.flatMap(Language.init(rawValue:))
            ?? Language.fromEnvironment(environment)
        configuration.noColor = environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        configuration.themeName = configuration.noColor ? "mono" : (theme ?? file.theme ?? "default")
        configuration.themeDirectory = ThemeCatalog.defaultUserDirectory(environment: environment)
        guard configuration.themes.contains(configuration.themeName) else {
            throw ValidationError("There is no theme \"\(configuration.themeName)\" (themes: \(configuration.themes.names.joined(separator: ", "))).")
        }
        if let minutes = file.idleMinutes { configuration.idleTimeout = Int64(minutes) * 60_000 }
        if let minutes = file.kioskIdleMinutes { configuration.kioskIdleTimeout = Int64(minutes) * 60_000 }
        if file.glucoseUnit == "mg/dL" { configuration.glucoseUnit = .glucoseMass }
        if let minutes = file.syncMinutes { configuration.syncInterval = Int64(minutes) * 60_000 }
        #if DEBUG
            // For the test suite only: a cheaper key derivation, so scripted logins do not each take a second.
            // Compiled into debug builds alone: a release binary must never let its environment weaken the vault.
            if let kdf = environment["BEDSIDE_TEST_KDF_LOG_N"].flatMap(Int.init), (10...17).contains(kdf) {
                configuration.kdf = KDFParameters(logN: kdf, r: 8, p: 1)
            }
        #endif
        return configuration
    }
}

/// Prints to standard error, inert: messages carry server text (diagnostics, names), and no escape sequence
/// from a server may reach the terminal. Line breaks of a message of several lines are kept.
func complain(_ message: String) {
    FileHandle.standardError.write(Data((TerminalText.inert(message, keepingLineBreaks: true) + "\n").utf8))
}

/// Prints a line to standard output, inert (see `complain`). Every human-readable line goes through here.
func say(_ message: String) {
    print(TerminalText.inert(message, keepingLineBreaks: true))
}

/// Prints JSON to standard output. The writer escapes C0 controls already; C1 controls and bidi overrides
/// it leaves raw, and a terminal may act on them, so they are escaped too (`\u009b`), which inside a JSON
/// string means the same character: the data is unchanged, the terminal sees only text.
func sayJSON(_ value: JSONValue) {
    var text = String.UnicodeScalarView()
    for scalar in value.serializedString().unicodeScalars {
        if TerminalText.printable(scalar) == scalar {
            text.append(scalar)
        } else {
            let hex = String(scalar.value, radix: 16)
            text.append(contentsOf: ("\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex).unicodeScalars)
        }
    }
    print(String(text))
}

/// Exit codes of DESIGN.md.
enum Exit {
    static let failure = ExitCode(1)
    static let locked = ExitCode(3)
    static let offline = ExitCode(4)
}


/// A core that holds this process's claim on the data directory; another Bedside using it is a clear error.
func claimedCore(_ configuration: ClientConfiguration, clock: any WallClock = SystemClock()) async throws -> ClientCore {
    let core = ClientCore(configuration: configuration, clock: clock)
    do {
        try await core.claimDataDirectory()
    } catch {
        complain(error.description)
        throw Exit.failure
    }
    return core
}

/// Fresh randomness for the UI's id generator.
func randomSeed() -> UInt64 {
    var generator = SystemRandomNumberGenerator()
    return generator.next()
}

struct TUICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tui", abstract: "Open the terminal app (the default).")

    @OptionGroup var options: GlobalOptions

    @Flag(help: "The clinician kiosk: your patients' alerts, to triage. Keeps nothing on disk; locks after 2 minutes.")
    var kiosk = false

    func run() async throws {
        ProcessHardening.apply()
        var configuration = try options.resolve()
        configuration.kiosk = kiosk
        // The kiosk never opens the data directory, so it does not claim it.
        let core = kiosk ? ClientCore(configuration: configuration, clock: SystemClock()) : try await claimedCore(configuration)
        try await runTerminal(configuration: configuration, core: core)
    }
}

/// Opens the terminal app on `core`, starting with `actions` (the demo starts logged in).
func runTerminal(configuration: ClientConfiguration, core: ClientCore, startingWith actions: [Action] = []) async throws {
    let theme: Theme
    do {
        theme = try configuration.themes.theme(named: configuration.themeName)
    } catch {
        throw ValidationError(error.description)
    }
    guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
        complain(Localizer(configuration.language).text(.cliNotTerminal))
        throw Exit.failure
    }
    let clock = SystemClock()
    let terminal = NcursesTerminal(theme: configuration.noColor ? theme.withoutColor : theme)
    try terminal.start()
    defer {
        terminal.stop()
        // Said after the screen is given back, so it stays readable.
        if let notice = terminal.localeNotice { complain(notice) }
    }
    #if DEBUG
        // For the terminal test only: prove that a crash still gives the terminal back. Debug builds alone,
        // so nothing in a shipped binary's environment can crash it on purpose.
        if let crashAfter = ProcessInfo.processInfo.environment["BEDSIDE_TEST_CRASH_AFTER_MS"].flatMap(Int.init) {
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(crashAfter)) {
                fatalError("crash requested by BEDSIDE_TEST_CRASH_AFTER_MS")
            }
        }
    #endif
    let state = configuration.initialState(
        width: terminal.size.width, height: terminal.size.height, now: clock.now(), zone: .current, idSeed: randomSeed())
    let loop = EventLoop(state: state, core: core, clock: clock, device: terminal)
    _ = await loop.run(startingWith: actions)
}

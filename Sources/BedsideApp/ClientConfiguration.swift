import BedsideCore
import BedsideSync
import BedsideUI
import BedsideVault
import Foundation

/// Where the client keeps its data and how it reaches the server.
public struct ClientConfiguration: Sendable {
    /// The profile directory: `$XDG_DATA_HOME/bedside/<profile>/`, or `--data-dir`.
    public var dataDirectory: URL
    /// The server's base URL, e.g. `https://127.0.0.1:8443`.
    public var server: String
    public var transport: TransportConfiguration
    public var kdf: KDFParameters = .standard
    public var language: Language = .en
    public var themeName = "default"
    /// Where the user's own themes are found first (`$XDG_CONFIG_HOME/bedside/themes`); nil: built-in only.
    public var themeDirectory: URL?

    /// The themes this configuration can pick from.
    public var themes: ThemeCatalog { ThemeCatalog(userDirectory: themeDirectory) }
    public var noColor = false
    /// Milliseconds without input before the vault locks.
    public var idleTimeout: Int64 = 15 * 60_000
    public var glucoseUnit: MeasurementPart = .glucoseMolar
    /// Milliseconds between automatic syncs while the app runs.
    public var syncInterval: Int64 = 5 * 60_000
    /// The shared clinician kiosk: nothing is written to the data directory, and it locks after 2 minutes.
    public var kiosk = false
    /// How long the kiosk waits without a key before it locks (DESIGN: 2 minutes).
    public var kioskIdleTimeout: Int64 = 2 * 60_000

    public init(dataDirectory: URL, server: String = "", transport: TransportConfiguration = TransportConfiguration()) {
        self.dataDirectory = dataDirectory
        self.server = server
        self.transport = transport
    }

    /// The first state of the app for this configuration, at `now`.
    public func initialState(width: Int, height: Int, now: Int64, zone: LocalZone, idSeed: UInt64) -> AppState {
        var state = AppState(
            width: width, height: height, now: now, zone: zone, language: language,
            hasAccount: kiosk ? false : hasAccount, server: server, idleTimeout: kiosk ? kioskIdleTimeout : idleTimeout, idSeed: idSeed)
        state.kiosk = kiosk
        state.glucosePart = glucoseUnit
        state.syncInterval = syncInterval
        return state
    }

    /// With one offset all year (tests).
    public func initialState(width: Int, height: Int, now: Int64, utcOffsetSeconds: Int, idSeed: UInt64) -> AppState {
        initialState(width: width, height: height, now: now, zone: .fixed(utcOffsetSeconds), idSeed: idSeed)
    }

    public var keyFile: URL { dataDirectory.appendingPathComponent("vault.key") }

    /// Whether an account lives here (a wrapped key exists).
    public var hasAccount: Bool { FileManager.default.fileExists(atPath: keyFile.path) }

    /// `$XDG_DATA_HOME/bedside/<profile>`, else `~/.local/share/bedside/<profile>`.
    public static func defaultDataDirectory(profile: String = "default", environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let base: URL
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty {
            base = URL(fileURLWithPath: xdg)
        } else {
            base = URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".local/share")
        }
        return base.appendingPathComponent("bedside").appendingPathComponent(profile)
    }

    /// `$XDG_CONFIG_HOME/bedside/config.toml`, else `~/.config/bedside/config.toml`.
    public static func defaultConfigFile(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let base: URL
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty {
            base = URL(fileURLWithPath: xdg)
        } else {
            base = URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".config")
        }
        return base.appendingPathComponent("bedside/config.toml")
    }
}

import BedsideCore
import BedsideUI
import Foundation
import TOMLKit

/// `$XDG_CONFIG_HOME/bedside/config.toml`. Unknown keys are errors, so a typo is reported, not ignored.
///
/// ```toml
/// server = "https://bedside.example.org"
/// ca-file = "/etc/bedside/ca.pem"       # trust this CA (a development server)
/// pin = "sha256//base64..."              # accept only this server key
/// theme = "high-contrast"
/// language = "nl"
/// idle-minutes = 15
/// kiosk-idle-minutes = 2                 # the kiosk's lock (1–30)
/// glucose-unit = "mmol/L"                # or "mg/dL"
/// sync-minutes = 5                       # sync this often while running (1–1440)
/// ```
public struct ConfigFile: Sendable, Equatable, Decodable {
    public var server: String?
    public var caFile: String?
    public var pin: String?
    public var theme: String?
    public var language: String?
    public var idleMinutes: Int?
    public var kioskIdleMinutes: Int?
    public var glucoseUnit: String?
    public var syncMinutes: Int?

    enum CodingKeys: String, CodingKey {
        case server, pin, theme, language
        case caFile = "ca-file"
        case idleMinutes = "idle-minutes"
        case kioskIdleMinutes = "kiosk-idle-minutes"
        case glucoseUnit = "glucose-unit"
        case syncMinutes = "sync-minutes"
    }

    public init() {}

    /// Reads the file; a missing file is an empty configuration, a broken one an error naming the problem.
    public static func load(_ url: URL) throws(ConfigError) -> ConfigFile {
        guard let data = FileManager.default.contents(atPath: url.path) else { return ConfigFile() }
        return try parse(String(decoding: data, as: UTF8.self), source: url.path)
    }

    /// Reads the text of a config file; `source` names it in error messages. Separate from `load` so the
    /// fuzz target and tests can feed text without a file.
    public static func parse(_ text: String, source: String) throws(ConfigError) -> ConfigFile {
        if let problem = TOMLGuard.problem(in: text) { throw ConfigError(description: "\(source) is not valid: \(problem)") }
        let config: ConfigFile
        do {
            config = try TOMLDecoder(strictDecoding: true).decode(ConfigFile.self, from: text)
        } catch {
            throw ConfigError(description: "\(source) is not valid: \(error)")
        }
        if let language = config.language, Language(rawValue: language) == nil {
            throw ConfigError(description: "\(source): language must be en, nl or de, not \"\(language)\"")
        }
        if let unit = config.glucoseUnit, unit != "mmol/L", unit != "mg/dL" {
            throw ConfigError(description: "\(source): glucose-unit must be mmol/L or mg/dL, not \"\(unit)\"")
        }
        if let minutes = config.idleMinutes, !(1...240).contains(minutes) {
            throw ConfigError(description: "\(source): idle-minutes must be between 1 and 240")
        }
        if let minutes = config.kioskIdleMinutes, !(1...30).contains(minutes) {
            throw ConfigError(description: "\(source): kiosk-idle-minutes must be between 1 and 30 (a shared terminal must not stay open long)")
        }
        if let minutes = config.syncMinutes, !(1...1440).contains(minutes) {
            throw ConfigError(description: "\(source): sync-minutes must be between 1 and 1440")
        }
        return config
    }
}

public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
}

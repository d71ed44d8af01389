import TOMLKit

/// Why a theme file was refused; the message names the file's key.
public struct ThemeError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
}

/// Reads the theme format documented in `themes/README.md`.
public enum ThemeParser {
    private struct File: Decodable {
        var name: String
        var description: String
        var styles: [String: StyleEntry]
    }

    private struct StyleEntry: Decodable {
        var fg: String?
        var bg: String?
        var bold: Bool?
        var underline: Bool?
        var reverse: Bool?
        var dim: Bool?
    }

    /// Parses a theme; every role must be present and every colour valid. Unknown keys are errors,
    /// so a typo is reported instead of silently ignored.
    public static func parse(_ text: String, expectedName: String? = nil) throws(ThemeError) -> Theme {
        if let problem = TOMLGuard.problem(in: text) { throw ThemeError(description: "the theme is not valid: \(problem)") }
        let file: File
        do {
            file = try TOMLDecoder(strictDecoding: true).decode(File.self, from: text)
        } catch {
            throw ThemeError(description: "the theme is not valid: \(error)")
        }
        if let expectedName, file.name != expectedName {
            throw ThemeError(description: "name is \"\(file.name)\" but the file is \(expectedName).toml")
        }
        var styles: [StyleRole: Style] = [:]
        for (key, entry) in file.styles {
            guard let role = StyleRole(rawValue: key) else {
                let known = StyleRole.allCases.map(\.rawValue).joined(separator: ", ")
                throw ThemeError(description: "styles.\(key) is not a role (roles: \(known))")
            }
            func color(_ value: String?, _ field: String) throws(ThemeError) -> ThemeColor {
                guard let value else { return .terminalDefault }
                guard let color = ThemeColor(value) else {
                    throw ThemeError(description: "styles.\(key).\(field) = \"\(value)\" is not #rrggbb or \"default\"")
                }
                return color
            }
            styles[role] = Style(
                foreground: try color(entry.fg, "fg"), background: try color(entry.bg, "bg"), bold: entry.bold ?? false,
                underline: entry.underline ?? false, reverse: entry.reverse ?? false, dim: entry.dim ?? false)
        }
        let missing = StyleRole.allCases.filter { styles[$0] == nil }.map(\.rawValue)
        guard missing.isEmpty else {
            throw ThemeError(description: "missing styles: \(missing.joined(separator: ", "))")
        }
        return Theme(name: file.name, description: file.description, styles: styles)
    }
}

extension Theme {
    /// A built-in theme by name.
    public static func builtIn(_ name: String) throws(ThemeError) -> Theme {
        guard let source = builtInSources[name] else {
            throw ThemeError(description: "there is no theme \"\(name)\" (themes: \(builtInNames.joined(separator: ", ")))")
        }
        return try ThemeParser.parse(source, expectedName: name)
    }
}

import Foundation

/// Where themes come from: a file `NAME.toml` in the user's theme folder
/// (`$XDG_CONFIG_HOME/bedside/themes`) first, then the built-in ones (the files of `themes/`).
public struct ThemeCatalog: Sendable {
    /// The user's theme folder; nil when there is none to look in.
    public var userDirectory: URL?

    /// The largest theme file read (the built-in ones are about 1 KiB).
    public static let maximumFileBytes = 64 << 10

    public init(userDirectory: URL?) {
        self.userDirectory = userDirectory
    }

    /// `$XDG_CONFIG_HOME/bedside/themes`, else `~/.config/bedside/themes`.
    public static func defaultUserDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let base: URL
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty {
            base = URL(fileURLWithPath: xdg)
        } else {
            base = URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".config")
        }
        return base.appendingPathComponent("bedside/themes")
    }

    /// A theme name is a file name without a path: letters, digits, `-` and `_`.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "-" || $0 == "_" }
    }

    private func userFile(_ name: String) -> URL? {
        guard Self.isValidName(name), let userDirectory else { return nil }
        let file = userDirectory.appendingPathComponent("\(name).toml")
        return FileManager.default.fileExists(atPath: file.path) ? file : nil
    }

    /// Every theme that can be picked: the user's, then the built-in ones they do not replace.
    public var names: [String] {
        let files = (userDirectory.flatMap { try? FileManager.default.contentsOfDirectory(atPath: $0.path) } ?? [])
            .filter { $0.hasSuffix(".toml") }.map { String($0.dropLast(5)) }.filter(Self.isValidName).sorted()
        return files + Theme.builtInNames.filter { !files.contains($0) }
    }

    /// Whether `name` names a theme (without reading it).
    public func contains(_ name: String) -> Bool {
        userFile(name) != nil || Theme.builtInSources[name] != nil
    }

    /// The theme called `name`: the user's file when there is one, else the built-in one.
    public func theme(named name: String) throws(ThemeError) -> Theme {
        guard Self.isValidName(name) else {
            throw ThemeError(description: "\"\(name)\" is not a theme name (letters, digits, - and _)")
        }
        if let file = userFile(name) {
            guard let handle = FileHandle(forReadingAtPath: file.path) else { throw ThemeError(description: "cannot read \(file.path)") }
            defer { try? handle.close() }
            let data = (try? handle.read(upToCount: Self.maximumFileBytes + 1)) ?? nil
            guard let data, data.count <= Self.maximumFileBytes, let text = String(data: data, encoding: .utf8) else {
                throw ThemeError(description: "\(file.path) is not a UTF-8 text file of at most 64 KiB")
            }
            do {
                return try ThemeParser.parse(text, expectedName: name)
            } catch {
                throw ThemeError(description: "\(file.path): \(error.description)")
            }
        }
        guard Theme.builtInSources[name] != nil else {
            throw ThemeError(description: "there is no theme \"\(name)\" (themes: \(names.joined(separator: ", ")))")
        }
        return try Theme.builtIn(name)
    }
}

/// SMART on FHIR system scopes (App Launch 2.x, "scopes for requesting clinical data"): what a backend
/// client may do, by resource type. `system/Observation.rs` (v2: create, read, update, delete, search
/// letters, in that order) and `system/Observation.read` (v1: `read` is `rs`, `write` is `cud`, `*` all)
/// mean the same to the server; `system/*.rs` covers every type.
public struct SMARTScopes: Sendable, Equatable, CustomStringConvertible {
    /// One interaction a scope allows.
    public enum Permission: Character, Sendable, CaseIterable, Comparable {
        case create = "c", read = "r", update = "u", delete = "d", search = "s"

        public static func < (lhs: Self, rhs: Self) -> Bool {
            allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
        }
    }

    /// One `system/Type.permissions` scope.
    public struct Scope: Sendable, Equatable, Hashable {
        /// A resource type, or `*` for every type.
        public var resourceType: String
        public var permissions: Set<Permission>
        /// How the client wrote it (kept so a fully granted scope is returned as asked).
        public var text: String

        /// The v2 form, e.g. `system/Observation.rs`.
        public var canonical: String {
            "system/\(resourceType)." + String(permissions.sorted().map(\.rawValue))
        }
    }

    /// Why a scope string was not taken, in words for the client or the operator.
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    public var scopes: [Scope]

    /// The resource types a scope may name, besides `*`.
    public static let resourceTypes: Set<String> = Set(SupportedResource.allCases.map(\.rawValue))

    public init(scopes: [Scope]) { self.scopes = scopes }

    /// Reads a space-separated scope string. `strict` (registration) refuses anything that is not a system
    /// scope this server knows; otherwise (a token request) other scopes, such as `openid` or a
    /// `patient/` scope, are left out, as SMART lets a server grant less than asked.
    public static func parse(_ text: String, strict: Bool) throws(Refusal) -> SMARTScopes {
        var scopes: [Scope] = []
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        guard words.count <= 100, text.utf8.count <= 4_096 else { throw Refusal(description: "The scope string is too long (at most 100 scopes).") }
        for word in words {
            do throws(Refusal) {
                scopes.append(try scope(String(word)))
            } catch {
                if strict { throw error }
            }
        }
        return SMARTScopes(scopes: scopes)
    }

    private static func scope(_ word: String) throws(Refusal) -> Scope {
        guard word.hasPrefix("system/") else {
            throw Refusal(description: "'\(word.prefix(60))' is not a system scope (system/Type.permissions, e.g. system/Observation.rs).")
        }
        let body = word.dropFirst("system/".count)
        guard !body.contains("?") else {
            throw Refusal(description: "'\(word.prefix(60))': scopes narrowed by search parameters are not supported.")
        }
        guard let dot = body.lastIndex(of: "."), dot != body.startIndex else {
            throw Refusal(description: "'\(word.prefix(60))' names no permissions (e.g. system/Observation.rs).")
        }
        let type = String(body[..<dot])
        let permissionText = String(body[body.index(after: dot)...])
        guard type == "*" || resourceTypes.contains(type) else {
            throw Refusal(description: "'\(word.prefix(60))': this server has no resource type '\(type.prefix(40))'.")
        }
        let permissions: Set<Permission>
        switch permissionText {
        case "read": permissions = [.read, .search]
        case "write": permissions = [.create, .update, .delete]
        case "*": permissions = Set(Permission.allCases)
        default:
            let letters = permissionText.map { Permission(rawValue: $0) }
            // v2: a non-empty subset of c r u d s, in that order, each once.
            guard !letters.isEmpty, letters.allSatisfy({ $0 != nil }) else {
                throw Refusal(description: "'\(word.prefix(60))': permissions are letters of cruds in that order, or read, write or *.")
            }
            let ordered = letters.compactMap { $0 }
            guard ordered == ordered.sorted(), Set(ordered).count == ordered.count else {
                throw Refusal(description: "'\(word.prefix(60))': permissions are letters of cruds in that order, or read, write or *.")
            }
            permissions = Set(ordered)
        }
        return Scope(resourceType: type, permissions: permissions, text: word)
    }

    /// Whether some scope allows `permission` on `type`.
    public func allows(_ permission: Permission, on type: String) -> Bool {
        scopes.contains { ($0.resourceType == "*" || $0.resourceType == type) && $0.permissions.contains(permission) }
    }

    /// Every permission the scopes give on `type`.
    func permissions(on type: String) -> Set<Permission> {
        scopes.filter { $0.resourceType == "*" || $0.resourceType == type }.reduce(into: Set<Permission>()) { $0.formUnion($1.permissions) }
    }

    /// What may be granted of `asked` under these (registered) scopes: each asked scope cut down to the
    /// permissions registered for its type; those left with none are dropped.
    public func granting(_ asked: SMARTScopes) -> SMARTScopes {
        SMARTScopes(scopes: asked.scopes.compactMap { scope in
            let allowed: Set<Permission>
            if scope.resourceType == "*" {
                // A wildcard is granted only as far as a registered wildcard goes.
                allowed = scopes.filter { $0.resourceType == "*" }.reduce(into: Set<Permission>()) { $0.formUnion($1.permissions) }
            } else {
                allowed = permissions(on: scope.resourceType)
            }
            let granted = scope.permissions.intersection(allowed)
            guard !granted.isEmpty else { return nil }
            var result = scope
            result.permissions = granted
            if granted != scope.permissions { result.text = result.canonical }
            return result
        })
    }

    /// The scope string, as granted (each scope as the client wrote it when granted in full).
    public var description: String { scopes.map(\.text).joined(separator: " ") }
}

import Crypto
import Foundation

/// A search's `_cursor` as it travels in next links: the position (`PageCursor`) sealed under the
/// store's cursor key (AES-256-GCM) and bound to the search it was made for. Sealed, it shows no row
/// numbers (which would tell anyone paging their own readings how much the whole server stores, and
/// when); bound, it fits no other search (another filter, another sort) and cannot be altered. Every
/// instance sharing the database opens the others' cursors; after a key rotation old ones are refused.
enum SearchCursor {
    /// Longer than any cursor this server writes (about 120 characters).
    static let maximumLength = 512

    /// What a cursor is bound to: the type, the parameters that decide which rows and in what order
    /// (paging and presentation left out), and the sort the search runs with (defaults included).
    static func searchKey(type: String, parameters: [(String, String)], sort: [ResourceQuery.SortKey]) -> [UInt8] {
        var text = "bedside-cursor-1\n\(type)\n"
        for (name, value) in parameters where !["_cursor", "_offset", "_count", "_format", "_pretty", "_elements"].contains(name) {
            text += "\(BundleWriter.percentEncode(name))=\(BundleWriter.percentEncode(value))&"
        }
        text += "\nsort="
        for key in sort {
            switch key {
            case .date(let ascending): text += ascending ? "date," : "-date,"
            case .lastUpdated(let ascending): text += ascending ? "_lastUpdated," : "-_lastUpdated,"
            case .priority(let ascending): text += ascending ? "priority," : "-priority,"
            }
        }
        return Array(SHA256.hash(data: Array(text.utf8)))
    }

    /// The `_cursor` of the page after `cursor` in the search `searchKey` names.
    static func seal(_ cursor: PageCursor, search: [UInt8], keys: StoreKeys) -> String? {
        guard let box = try? AES.GCM.seal(Array(cursor.token.utf8), using: keys.cursors, authenticating: search), let combined = box.combined
        else { return nil }
        return combined.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The position a `_cursor` names, if this server sealed it for this very search; else nil.
    static func open(_ token: String, search: [UInt8], keys: StoreKeys) -> PageCursor? {
        guard token.utf8.count <= maximumLength, token.utf8.allSatisfy(isTokenByte) else { return nil }
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let box = try? AES.GCM.SealedBox(combined: data),
            let plain = try? AES.GCM.open(box, using: keys.cursors, authenticating: search)
        else { return nil }
        return PageCursor(token: String(decoding: plain, as: UTF8.self))
    }

    /// base64url's alphabet, the only bytes a cursor of this server holds.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == UInt8(ascii: "-")
            || byte == UInt8(ascii: "_")
    }
}

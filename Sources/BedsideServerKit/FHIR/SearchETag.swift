import Crypto

extension ETag {
    /// A searchset page's weak tag: `W/"search-<16 hex>"`, the first 64 bits of a SHA-256 over the query
    /// as sent (without `_offset`), the paging position (offset, page size, whether more follow) and the
    /// id and versionId of every entry in order.
    ///
    /// Any change to what the page holds (a new match, a new version, a match dropping out, the order)
    /// changes the tag, so a client that sends it back in If-None-Match gets 304 only when the Bundle
    /// it already has is still the answer. The Bundle's own id and timestamp are left out: they differ
    /// on every request and say nothing about the data.
    static func searchset(type: String, parameters: [(String, String)], query: ResourceQuery, page: ResourcePage) -> String {
        var text = "bedside-searchset-1\n\(type)\n"
        for (name, value) in parameters where !["_offset", "_format", "_pretty"].contains(name) {
            // Encoded, so no name or value can forge a separator.
            text += "\(BundleWriter.percentEncode(name))=\(BundleWriter.percentEncode(value))&"
        }
        text += "\noffset=\(query.offset) count=\(query.count) more=\(page.hasMore)\n"
        for resource in page.resources {
            text += "\(resource.id) \(resource.versionID)\n"
        }
        // What `_include`/`_revinclude` brought, and `Bundle.total`: a change to either changes the answer.
        for resource in page.included {
            text += "include \(resource.type) \(resource.id) \(resource.versionID)\n"
        }
        if let total = page.total { text += "total \(total)\n" }
        let digest = SHA256.hash(data: Array(text.utf8)).prefix(8).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }
        return "W/\"search-\(digest.joined())\""
    }
}

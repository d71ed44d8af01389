import Foundation

/// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `::1/128`, or a single address), for
/// `--trusted-proxy`.
public struct AddressRange: Sendable, Equatable, CustomStringConvertible {
    private let network: [UInt8]
    private let prefixLength: Int
    public let description: String

    /// nil when `text` is not an address with an optional prefix length that fits it.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.bytes(of: String(parts[0])) else { return nil }
        let bits = bytes.count * 8
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...bits).contains(length) else { return nil }
            prefixLength = length
        } else {
            prefixLength = bits
        }
        network = bytes
        description = text
    }

    /// Whether `address` (as a peer address reads: `192.0.2.1`, `::1`) lies in this range.
    public func contains(_ address: String) -> Bool {
        guard let bytes = Self.bytes(of: address), bytes.count == network.count else { return false }
        var remaining = prefixLength
        for index in bytes.indices where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if bytes[index] & mask != network[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// The 4 or 16 bytes of an address; an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) reads as IPv4.
    static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF { return Array(bytes[12...]) }
        return bytes
    }
}

extension AddressRange {
    /// The key budgets and the connection cap count an address under: itself for IPv4, its /64 for
    /// IPv6, where one subscriber commonly holds a whole /64 and could otherwise use a fresh address
    /// for every request.
    public static func budgetKey(_ address: String) -> String {
        guard let bytes = bytes(of: address), bytes.count == 16 else { return address }
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return groups.joined(separator: ":") + "::/64"
    }
}

/// The client's address as the audit, the budgets and the connection cap should see it.
public struct ClientAddressResolver: Sendable {
    public let trustedProxies: [AddressRange]

    public init(trustedProxies: [AddressRange]) { self.trustedProxies = trustedProxies }

    public func isTrustedProxy(_ address: String) -> Bool { trustedProxies.contains { $0.contains(address) } }

    /// The peer itself, unless it is a trusted proxy: then the nearest address in `X-Forwarded-For`
    /// that is not one (read from the right, as each proxy appends the address it saw). Anything a client
    /// wrote further left is its own claim and is not believed.
    public func clientAddress(peer: String?, forwardedFor: String?) -> String? {
        guard let peer, isTrustedProxy(peer), let forwardedFor else { return peer }
        let hops = forwardedFor.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            guard AddressRange.bytes(of: hop) != nil else { return peer }
            if !isTrustedProxy(hop) { return hop }
        }
        return peer
    }
}

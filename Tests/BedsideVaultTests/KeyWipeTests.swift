import CBedsideSystem
import Crypto
import Foundation
import Synchronization
import Testing

@testable import BedsideVault

#if canImport(Glibc)
import Glibc
#endif

/// Proves `lock()` leaves no copy of the data key, or of the keys derived from it, anywhere in the
/// process's writable memory: the heap, anonymous mappings and stacks, read through /proc/self/mem.
///
/// The test must know the keys to look for them without itself leaving them in memory: it keeps them
/// only inverted (every bit flipped), and compares inverted pages against the inverted keys.
@Suite("Key vault: wiping")
struct KeyWipeTests {
    let password = "lantern-orbit-meadow-42"

    /// The data key and its derived keys, each inverted, read from the wrapped key with the password
    /// as `unlock` does, every clear copy wiped before returning.
    func invertedKeys(_ wrapped: WrappedKey) throws -> [[UInt8]] {
        let salt = try #require(Data(base64Encoded: wrapped.salt))
        let sealed = try #require(Data(base64Encoded: wrapped.sealedKey))
        let keyEncryptionKey = try wrapped.kdf.deriveKey(password: password, salt: Array(salt))
        var opened = try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: keyEncryptionKey, authenticating: Array("bedside.vault.key".utf8))
        defer { opened.withUnsafeMutableBytes { KeyVault.wipe($0) } }
        var inverted = [opened.withUnsafeBytes { $0.map { ~$0 } }]
        let master = opened.withUnsafeBytes { SymmetricKey(data: $0) }
        for purpose in KeyPurpose.allCases {
            let derived = HKDF<SHA256>.deriveKey(
                inputKeyMaterial: master, salt: Array("bedside".utf8), info: Array(purpose.rawValue.utf8), outputByteCount: 32)
            inverted.append(derived.withUnsafeBytes { $0.map { ~$0 } })
        }
        return inverted
    }

    /// How many times each inverted key appears, un-inverted, in the process's private writable memory.
    /// Nil when the memory cannot be read at all.
    static func occurrences(of invertedKeys: [[UInt8]]) -> [Int]? {
        var counts = Array(repeating: 0, count: invertedKeys.count)
        // A non-dumpable process (ProcessHardening) cannot read its own memory: the scan makes it readable
        // for itself and puts the setting back; a read that fails makes it readable again and is tried once more.
        var madeDumpable = bedside_get_dumpable() == 0
        if madeDumpable { _ = bedside_set_dumpable(1) }
        defer { if madeDumpable { _ = bedside_set_dumpable(0) } }
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return nil }
        let memory = Glibc.open("/proc/self/mem", O_RDONLY | O_CLOEXEC)
        guard memory >= 0 else { return nil }
        defer { Glibc.close(memory) }
        let chunkSize = 1 << 20
        let overlap = 64
        // The scan's own buffer is left out (exactly its bytes, wherever malloc put it), and zeroed after
        // every chunk.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize + overlap, alignment: 16)
        defer { buffer.deallocate() }
        let own = UInt(bitPattern: buffer.baseAddress)..<(UInt(bitPattern: buffer.baseAddress) + UInt(buffer.count))
        var ranges: [Range<UInt>] = []
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, fields[1].hasPrefix("rw"), fields[1].hasSuffix("p") else { continue }
            let bounds = fields[0].split(separator: "-").compactMap { UInt($0, radix: 16) }
            guard bounds.count == 2, bounds[0] < bounds[1] else { continue }
            let region = bounds[0]..<bounds[1]
            guard region.overlaps(own) else {
                ranges.append(region)
                continue
            }
            if region.lowerBound < own.lowerBound { ranges.append(region.lowerBound..<own.lowerBound) }
            if own.upperBound < region.upperBound { ranges.append(own.upperBound..<region.upperBound) }
        }
        var scanned = 0
        for range in ranges {
            var start = range.lowerBound
            while start < range.upperBound {
                let length = Int(min(UInt(chunkSize + overlap), range.upperBound - start))
                defer { start += UInt(chunkSize) }
                var read = pread(memory, buffer.baseAddress, length, off_t(Int64(bitPattern: UInt64(start))))
                if read <= 0, bedside_get_dumpable() == 0 {
                    madeDumpable = true
                    _ = bedside_set_dumpable(1)
                    read = pread(memory, buffer.baseAddress, length, off_t(Int64(bitPattern: UInt64(start))))
                }
                guard read > 0 else { continue }
                scanned += read
                let bytes = buffer.bindMemory(to: UInt8.self)
                for index in 0..<read { bytes[index] = ~bytes[index] }
                for (which, key) in invertedKeys.enumerated() {
                    counts[which] += Self.count(key, in: UnsafeBufferPointer(rebasing: bytes[0..<read]), countedUpTo: chunkSize)
                }
                if let base = buffer.baseAddress { explicit_bzero(base, buffer.count) }
            }
        }
        return scanned > 0 ? counts : nil
    }

    /// Occurrences of `pattern` in `bytes` starting before `limit` (the overlap is counted by the next chunk).
    static func count(_ pattern: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, countedUpTo limit: Int) -> Int {
        guard let base = bytes.baseAddress, let first = pattern.first else { return 0 }
        var found = 0
        var from = 0
        while from + pattern.count <= bytes.count, from < limit {
            guard let hit = memchr(base + from, Int32(first), bytes.count - from - pattern.count + 1) else { break }
            let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            if at < limit, pattern.withUnsafeBufferPointer({ memcmp(base + at, $0.baseAddress!, pattern.count) }) == 0 { found += 1 }
            from = at + 1
        }
        return found
    }

    @Test("after lock no copy of the data key or its derived keys is left in the process's memory; while unlocked the scan finds them")
    func lockWipes() async throws {
        // In a process of its own (an exit test: this test binary again, running only the closure). Beside
        // the rest of the suite the scan read gigabytes of other tests' memory, many times over when the
        // positive control missed (neighbours mapped, unmapped and made the process non-dumpable under it),
        // and held the whole test process up for minutes: every in-process server stopped answering.
        // It always exits 0 and prints its verdict, so that a failure says why here.
        let result = try #require(await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
            print(KeyWipeTests.scanAroundLock())
        })
        let verdict = String(decoding: result.standardOutputContent, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(verdict == "wiped", "the wipe check's own process said: \(verdict)")
    }

    /// Unlocks, uses and locks a vault, scanning this process's memory while unlocked (the keys must be
    /// found: a scan that cannot see them would prove nothing) and after lock (none may be left). Returns
    /// "wiped" when both hold, else what went wrong.
    static func scanAroundLock() -> String {
        do {
            let test = KeyWipeTests()
            let (created, wrapped) = try KeyVault.create(password: test.password, parameters: .testing)
            created.lock()
            let keys = try test.invertedKeys(wrapped)
            let vault = try KeyVault.unlock(wrapped, password: test.password)
            let sealed = try vault.seal("72.5", table: "measurement", rowID: "r1", column: "value")
            guard try vault.openString(sealed, table: "measurement", rowID: "r1", column: "value") == "72.5" else {
                return "a sealed value did not open to itself"
            }
            _ = try vault.blindIndex("bodyWeight", domain: "measurement.kind")
            _ = try vault.rewrap(newPassword: "quiet-harbour-lamp-17", parameters: .testing)
            guard let unlocked = occurrences(of: keys) else { return "the process's memory could not be read" }
            guard unlocked[0] >= 1 else { return "positive control missed: the scan did not see the live data key (\(unlocked))" }
            vault.lock()
            // Freed memory keeps most of what was in it, but malloc writes its own pointers over the first 16
            // bytes of a freed block: the second half of each key is looked for too.
            let halves = keys.map { Array($0.suffix(16)) }
            guard let locked = occurrences(of: keys + halves) else { return "the process's memory could not be read after lock" }
            guard locked == Array(repeating: 0, count: keys.count * 2) else {
                return "copies left after lock: \(locked) (data key, then \(KeyPurpose.allCases.map(\.rawValue)); then their second halves)"
            }
            return "wiped"
        } catch {
            return "\(error)"
        }
    }

    @Test("lock() zeroes the key's memory before freeing it")
    func lockZeroes() throws {
        let (vault, _) = try KeyVault.create(password: password, parameters: .testing)
        let seen = Mutex<[UInt8]?>(nil)
        KeyVault.releasedKeyObserver.withLock { $0 = { bytes in seen.withLock { $0 = Array(bytes) } } }
        defer { KeyVault.releasedKeyObserver.withLock { $0 = nil } }
        vault.lock()
        #expect(seen.withLock { $0 } == Array(repeating: 0, count: 32))
    }
}

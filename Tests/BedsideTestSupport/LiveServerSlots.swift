import Foundation

/// Bounds how many in-process test servers are alive at once.
///
/// Swift Testing starts every test at once; with ~140 servers alive together the test process held over
/// 2,000 descriptors, and Foundation's `Process.run()` on Linux (Swift 6.3.1) over-reads the last
/// `/proc/self/fd` entry when its 32 KiB directory buffer is full (fixed upstream in
/// swift-corelibs-foundation #5472): a launch crashed with SIGSEGV in memcpy in CI. A test that needs two
/// servers takes two slots one after the other; the bound is far above the number of such tests, so
/// they cannot all wait for each other.
public actor LiveServerSlots {
    public static let shared = LiveServerSlots(limit: 16)

    private let limit: Int
    private var inUse = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = limit }

    public func acquire() async {
        if inUse < limit {
            inUse += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    public func release() {
        if waiting.isEmpty {
            inUse -= 1
        } else {
            waiting.removeFirst().resume()  // the slot passes straight to the next waiter
        }
    }
}

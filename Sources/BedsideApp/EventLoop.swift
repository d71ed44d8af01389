import BedsideCore
import BedsideUI
import Foundation
import Synchronization

/// The one runtime of the app, for the terminal and for scripts alike: input and the clock become
/// actions, the reducer decides, effects run in the background and their results come back as
/// actions. The UI never waits on the network.
///
/// `run` drives it from a terminal on a thread of its own; `settle` drives it from a script, one event
/// at a time, until the work that event started is done (see `HeadlessRunner`).
public final class EventLoop: @unchecked Sendable {
    // Touched only by whoever drives the loop (one thread, or one script), except `inbox`, which
    // effect tasks fill.
    public private(set) var state: AppState
    private let core: ClientCore
    private let clock: any WallClock
    private let device: any TerminalDevice
    private let inbox = EffectInbox()
    private var lastTick: Int64
    /// The frame on the device, so that an unchanged one is not drawn again; nil after a clear.
    private var shown: Frame?
    /// The state changed since the last frame was made: rendering is pure, so without a change there
    /// is nothing new to draw (with 5,000 alerts a render is most of a key's cost).
    private var needsFrame = true

    public init(state: AppState, core: ClientCore, clock: any WallClock, device: any TerminalDevice) {
        self.state = state
        self.core = core
        self.clock = clock
        self.device = device
        self.lastTick = clock.now()
    }

    /// Runs until the patient quits; returns the final state. `actions` are applied first
    /// (e.g. `.loggedIn` when the demo has already logged in).
    public func run(startingWith actions: [Action] = []) async -> AppState {
        await withCheckedContinuation { (continuation: CheckedContinuation<AppState, Never>) in
            let thread = Thread { [self] in
                for action in actions { self.dispatch(action) }
                self.start()
                while !self.state.quitting {
                    // Poll quickly while effects are running, so their results show at once; otherwise rest.
                    self.turn(waitingMilliseconds: self.inbox.inFlight > 0 ? 30 : 250)
                }
                continuation.resume(returning: self.finish())
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
    }

    /// The start of a run: the screen's size as the device has it.
    public func start() {
        dispatch(.resize(width: device.size.width, height: device.size.height))
    }

    /// One turn: draw what changed (unless `drawing` is false), take at most one event (waiting up to
    /// `waitingMilliseconds`), apply up to `maximumResults` of the finished effects' results, and tick
    /// once a second.
    public func turn(waitingMilliseconds: Int, maximumResults: Int = .max, drawing: Bool = true) {
        if drawing { drawIfChanged() }
        if let event = device.nextEvent(timeoutMilliseconds: waitingMilliseconds) {
            switch event {
            case .key(let key): dispatch(.key(key))
            case .resize(let width, let height): dispatch(.resize(width: width, height: height))
            case .terminate: state.quitting = true
            }
        }
        for action in inbox.take(maximumResults) { dispatch(action) }
        let now = clock.now()
        if now - lastTick >= 1000 || now < lastTick {
            lastTick = now
            // The idle lock comes this way; its `.lock` effect blanks the screen (see `dispatch`).
            dispatch(.tick(now: now))
        }
    }

    /// Turns until the waiting event, the tick now due and everything they set off are done: each
    /// result is applied only once no effect runs, one at a time, so a script sees the same screen on
    /// every run. Then the frame is drawn.
    public func settle() async {
        turn(waitingMilliseconds: 0, maximumResults: 0, drawing: false)
        while true {
            await inbox.idle()
            guard inbox.hasResults else { break }
            turn(waitingMilliseconds: 0, maximumResults: 1, drawing: false)
        }
        drawIfChanged()
    }

    /// Applies an action as if it had come from the device or an effect (the demo's `.loggedIn`, a
    /// script's `sync`); its effects start at once.
    public func send(_ action: Action) {
        dispatch(action)
    }

    /// Leaving: let the last step's effects (keeping a draft) finish, briefly, then drop the key.
    private func finish() -> AppState {
        // Real time, not the loop's clock: a manual clock would never reach the deadline.
        let deadline = DispatchTime.now() + .seconds(2)
        while inbox.inFlight > 0 && DispatchTime.now() < deadline { usleep(10_000) }
        let semaphore = DispatchSemaphore(value: 0)
        Task { [core] in
            await core.lock()
            semaphore.signal()
        }
        semaphore.wait()
        return state
    }

    private func drawIfChanged() {
        guard needsFrame else { return }
        needsFrame = false
        let frame = render(state)
        guard frame != shown else { return }
        device.draw(frame)
        shown = frame
    }

    /// Blanks the device at once (locking must not leave data on it); the next frame is drawn whole.
    private func clearScreen() {
        device.clear()
        shown = nil
        needsFrame = true
    }

    /// The effects of one step run in the order the reducer gave them (keep the draft, then lock), in
    /// the background; different steps' effects run side by side.
    private func dispatch(_ action: Action) {
        let effects = reduce(&state, action)
        needsFrame = true
        guard !effects.isEmpty else { return }
        if effects.contains(.lock) { clearScreen() }
        inbox.started()
        Task { [core, inbox] in
            for effect in effects {
                let actions = await core.perform(effect) { progress in inbox.add([progress]) }
                inbox.add(actions)
            }
            inbox.finished()
        }
    }
}

/// Where effect tasks leave their results for the loop, and how many are still running.
final class EffectInbox: Sendable {
    private struct Running {
        var count = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let actions = Mutex<[Action]>([])
    private let running = Mutex(Running())

    var inFlight: Int { running.withLock { $0.count } }
    var hasResults: Bool { actions.withLock { !$0.isEmpty } }

    func add(_ new: [Action]) {
        actions.withLock { $0.append(contentsOf: new) }
    }

    /// Up to `limit` results, oldest first.
    func take(_ limit: Int) -> [Action] {
        actions.withLock { pending in
            let taken = Array(pending.prefix(limit))
            pending.removeFirst(taken.count)
            return taken
        }
    }

    func started() {
        running.withLock { $0.count += 1 }
    }

    func finished() {
        let waiters = running.withLock { running -> [CheckedContinuation<Void, Never>] in
            running.count -= 1
            guard running.count == 0 else { return [] }
            defer { running.waiters = [] }
            return running.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once no effect is running.
    func idle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = running.withLock { running -> Bool in
                if running.count == 0 { return true }
                running.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}

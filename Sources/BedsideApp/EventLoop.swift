import BedsideCore
import BedsideUI
import Foundation
import Synchronization

/// The interactive runtime: input and the clock become actions, the reducer decides, effects run in
/// the background and their results come back as actions. The UI never waits on the network.
public final class EventLoop: @unchecked Sendable {
    // Touched only on the loop's own thread, except `results`, which effect tasks fill.
    private var state: AppState
    private let core: ClientCore
    private let clock: any WallClock
    private let device: any TerminalDevice
    private let inbox = EffectInbox()

    public init(state: AppState, core: ClientCore, clock: any WallClock, device: any TerminalDevice) {
        self.state = state
        self.core = core
        self.clock = clock
        self.device = device
    }

    /// Runs until the patient quits; returns the final state. `actions` are applied first
    /// (e.g. `.loggedIn` when the demo has already logged in).
    public func run(startingWith actions: [Action] = []) async -> AppState {
        await withCheckedContinuation { (continuation: CheckedContinuation<AppState, Never>) in
            let thread = Thread { [self] in
                for action in actions { self.dispatch(action) }
                continuation.resume(returning: self.loop())
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
    }

    private func loop() -> AppState {
        var lastTick = clock.now()
        var previous: Frame?
        dispatch(.resize(width: device.size.width, height: device.size.height))
        while !state.quitting {
            let frame = render(state)
            if frame != previous {
                device.draw(frame)
                previous = frame
            }
            // Poll quickly while effects are running, so their results show at once; otherwise rest.
            let busy = inbox.inFlight.withLock { $0 } > 0
            if let event = device.nextEvent(timeoutMilliseconds: busy ? 30 : 250) {
                switch event {
                case .key(let key): dispatch(.key(key))
                case .resize(let width, let height): dispatch(.resize(width: width, height: height))
                case .terminate:
                    state.quitting = true
                }
            }
            for action in inbox.actions.withLock({ pending in defer { pending.removeAll() }; return pending }) {
                dispatch(action)
            }
            let now = clock.now()
            if now - lastTick >= 1000 || now < lastTick {
                lastTick = now
                let wasLocked = state.session == nil
                dispatch(.tick(now: now))
                if !wasLocked && state.session == nil { device.clear() }
            }
        }
        // Leaving: let the last step's effects (keeping a draft) finish, briefly, then drop the key.
        let deadline = clock.now() + 2_000
        while inbox.inFlight.withLock({ $0 }) > 0 && clock.now() < deadline { usleep(10_000) }
        let semaphore = DispatchSemaphore(value: 0)
        Task { [core] in
            await core.lock()
            semaphore.signal()
        }
        semaphore.wait()
        return state
    }

    /// The effects of one step run in the order the reducer gave them (keep the draft, then lock), in
    /// the background; different steps' effects run side by side.
    private func dispatch(_ action: Action) {
        let effects = reduce(&state, action)
        guard !effects.isEmpty else { return }
        if effects.contains(.lock) { device.clear() }
        inbox.inFlight.withLock { $0 += 1 }
        Task { [core, inbox] in
            for effect in effects {
                let actions = await core.perform(effect) { progress in
                    inbox.actions.withLock { $0.append(progress) }
                }
                inbox.actions.withLock { $0.append(contentsOf: actions) }
            }
            inbox.inFlight.withLock { $0 -= 1 }
        }
    }
}

/// Where effect tasks leave their results for the loop's thread.
final class EffectInbox: Sendable {
    let actions = Mutex<[Action]>([])
    let inFlight = Mutex(0)
}

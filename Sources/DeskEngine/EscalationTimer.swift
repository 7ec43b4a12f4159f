import Foundation
import SupportDesk

/// R9 as a service: a ticket not accepted within the rule's business hours gets the rule's manager
/// added as executor, recorded as a `TicketEscalated` event by a normal command.
///
/// Its work list is the processor's (kept in the log's side database with every command, so after a
/// restart it is there again); it sleeps on the injected clock until the earliest due time or until
/// the list changes. Replaying the log never runs it: only live commands do.
public struct EscalationTimer: Sendable {
    public let processor: CommandProcessor
    public let clock: any DeskClock

    public init(processor: CommandProcessor, clock: any DeskClock) {
        self.processor = processor
        self.clock = clock
    }

    /// Fires every escalation that is due now; returns the tickets escalated.
    @discardableResult
    public func fireDue() async -> [TicketNumber] {
        var fired: [TicketNumber] = []
        while let (n, due) = await processor.nextEscalation(), due <= clock.now() {
            do {
                _ = try await processor.execute(Command(actor: .system("escalation"), .escalate(ticket: n)))
                fired.append(n)
            } catch {
                // Refused (no rule any more, already accepted meanwhile) or unreadable: give up on it.
                await processor.dropEscalation(n)
            }
        }
        return fired
    }

    /// Runs until cancelled.
    public func run() async {
        while !Task.isCancelled {
            await fireDue()
            let (next, generation) = await processor.escalationWorkList()
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await processor.waitForEscalationChange(after: generation) }
                if let due = next?.due {
                    group.addTask { [clock] in try? await clock.sleep(until: due) }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }
}

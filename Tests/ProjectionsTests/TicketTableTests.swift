import Foundation
import Testing
@testable import SupportDesk
@testable import Projections

@Suite("TicketTable")
struct TicketTableTests {
    func ticket(_ n: TicketNumber) -> TicketState {
        TicketState(number: n, channel: .email, subject: "s\(n)", contact: "c\(n)", organisation: nil, language: "en",
                    openedAt: Date(timeIntervalSince1970: Double(n)), premium: false, participants: [])
    }

    @Test("behaves as a dictionary of tickets, over chunks and numbers outside them, in random order")
    func likeADictionary() {
        var rng = SystemRandomNumberGenerator()
        var table = TicketTable(), reference: [TicketNumber: TicketState] = [:], froze = 0
        let numbers: [TicketNumber] = [-3, 0, 1, 2, 1023, 1024, 1025, 2048, 5000, 1 << 20, 1 << 28, (1 << 28) + 1, 1 << 40, .max]
        for _ in 0..<4_000 {
            let n = Bool.random(using: &rng) ? numbers.randomElement(using: &rng)! : Int.random(in: 1...6_000, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: table[n] = ticket(n); reference[n] = ticket(n)
            case 1:
                let removed = table[n]
                table[n] = nil
                #expect(removed == reference.removeValue(forKey: n))
            case 2: table[n]?.version += 1; reference[n]?.version += 1
            case 3: table[n]?.status = .closed; reference[n]?.status = .closed
            case 4: if table.freeze(n) { froze += 1 }  // only closed tickets in chunks; changes nothing seen
            default: table[n] = nil; reference[n] = nil
            }
            #expect(table.count == reference.count)
        }
        #expect(table.dictionary == reference)
        #expect(table.numbers == reference.keys.sorted())
        #expect(table.values.map(\.number) == reference.keys.sorted())
        #expect(table.isEmpty == reference.isEmpty)
        #expect(froze > 0, "some tickets were frozen on the way")
    }

    @Test("DenseTable behaves as a dictionary, over chunks and keys outside them, and lists in key order")
    func denseTable() {
        var rng = SystemRandomNumberGenerator()
        var table = DenseTable<[Int]>(), reference: [Int: [Int]] = [:]
        let keys = [-3, 0, 1, 2, 1023, 1024, 1025, 2048, 1 << 28, (1 << 28) + 1, .max]
        for step in 0..<4_000 {
            let n = Bool.random(using: &rng) ? keys.randomElement(using: &rng)! : Int.random(in: 1...6_000, using: &rng)
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: table[n] = [step]; reference[n] = [step]
            case 1: table[n]?.append(step); reference[n]?.append(step)
            default: table[n] = nil; reference[n] = nil
            }
            #expect(table.count == reference.count)
        }
        var listed: [(Int, [Int])] = []
        table.forEach { listed.append(($0, $1)) }
        #expect(listed.map(\.0) == reference.keys.sorted())
        #expect(listed.allSatisfy { reference[$0.0] == $0.1 })
        #expect(table.isEmpty == reference.isEmpty)
    }

    @Test("the queues' status rank without hashing is the rank by raw value")
    func statusRank() {
        let byRawValue = TicketStatus.allCases.sorted { $0.rawValue < $1.rawValue }
        #expect(byRawValue.enumerated().allSatisfy { DeskView.OpenFacts.rank(of: $0.element) == UInt8($0.offset) })
    }

    @Test("each facet value has its own position among its cases, and a FacetIndex keeps each value's tickets apart")
    func facetIndexes() {
        func positions<K: FacetKey>(_: K.Type) -> [Int] { K.allCases.map(\.facetIndex).sorted() }
        #expect(positions(TicketStatus.self) == Array(0..<TicketStatus.allCases.count))
        #expect(positions(TicketType.self) == Array(0..<TicketType.allCases.count))
        #expect(positions(Criticality.self) == Array(0..<Criticality.allCases.count))
        #expect(positions(SupportLevel.self) == Array(0..<SupportLevel.allCases.count))
        var index = FacetIndex<TicketStatus>()
        for (n, s) in [(1, TicketStatus.new), (2, .closed), (3, .new), (4, .waitingForClient)] { index[s].insert(n) }
        index[.new].remove(3)
        index[.resolved].insert(3)
        #expect(index.nonEmpty == [.new: [1], .closed: [2], .resolved: [3], .waitingForClient: [4]])
        #expect(index[.accepted].isEmpty)
    }

    @Test("TicketSet behaves as a Set of numbers, and lists its bitmap part in ascending order")
    func ticketSet() {
        var rng = SystemRandomNumberGenerator()
        var set = TicketSet(), reference = Set<TicketNumber>()
        let odd = [-3, 0, 1, 63, 64, 65, 128, TicketSet.limit, TicketSet.limit + 1, .max]
        for _ in 0..<5_000 {
            let n = Bool.random(using: &rng) ? odd.randomElement(using: &rng)! : Int.random(in: 1...3_000, using: &rng)
            if Bool.random(using: &rng) {
                let inserted = set.insert(n)
                #expect(inserted == reference.insert(n).inserted)
            } else {
                let removed = set.remove(n)
                #expect(removed == reference.remove(n))
            }
            #expect(set.count == reference.count && set.contains(n) == reference.contains(n))
        }
        let listed = Array(set)
        #expect(Set(listed) == reference && listed.count == reference.count)
        let inBitmap = listed.filter { $0 >= 1 && $0 <= TicketSet.limit }
        #expect(inBitmap == inBitmap.sorted())
        #expect(TicketSet(reference) == set && TicketSet(reference.shuffled()) == set)
        var other = set
        other.insert(2_999_999)
        #expect(other != set)
    }

    @Test("a change through the subscript is made in place: the thread's storage is not copied")
    func inPlace() {
        var table = TicketTable()
        var t = ticket(7)
        t.comments = [CommentState(number: 1, author: .contact("c7"), text: "hello", isInternal: false, notify: [], attachments: [], at: Date())]
        table[7] = t
        t = ticket(0)  // drop the local copy's reference
        let before = table[7]!.comments.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        table[7]!.comments[0].text = "changed"
        let after = table[7]!.comments.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        #expect(before == after, "the comments array was copied")
        #expect(table[7]!.comments[0].text == "changed" && table.count == 1)
    }
}

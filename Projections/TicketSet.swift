import SupportDesk

/// A set of ticket numbers as a bitmap: one bit per number up to the highest held.
///
/// The Chronicle's indexes (tickets by status, type, criticality, level; each staff member's
/// assigned tickets) each hold a large share of all tickets; as `Set<TicketNumber>` they cost
/// 8 bytes per ticket in buckets at most 3/4 full (30 MB at 621k tickets for the four facets
/// alone). Ticket numbers are dense, so a bitmap costs 1/8 byte per ticket ever opened, and
/// listing it gives the numbers in ascending order. Numbers below 1 or above 2²⁴ go to a `Set`
/// beside: up to there a set's bitmap stays under 2 MB whatever number it holds (a desk that
/// passes 16.7M tickets keeps working, with sets for the newer ones).
struct TicketSet: Sequence, Equatable, ExpressibleByArrayLiteral {
    private var words: [UInt64] = []
    private var others: Set<TicketNumber> = []
    private(set) var count = 0
    /// The highest number kept in the bitmap.
    static let limit = 1 << 24

    init() {}

    init(arrayLiteral numbers: TicketNumber...) { self.init(numbers) }

    init<S: Sequence<TicketNumber>>(_ numbers: S) {
        for n in numbers { insert(n) }
    }

    var isEmpty: Bool { count == 0 }

    private static func bit(_ n: TicketNumber) -> (word: Int, mask: UInt64)? {
        guard n >= 1, n <= Self.limit else { return nil }
        return ((n - 1) >> 6, 1 << UInt64((n - 1) & 63))
    }

    func contains(_ n: TicketNumber) -> Bool {
        guard let (w, m) = Self.bit(n) else { return others.contains(n) }
        return w < words.count && words[w] & m != 0
    }

    @discardableResult
    mutating func insert(_ n: TicketNumber) -> Bool {
        guard let (w, m) = Self.bit(n) else {
            let inserted = others.insert(n).inserted
            if inserted { count += 1 }
            return inserted
        }
        if w >= words.count {
            // Grow by at least half, as an array appending would, so that inserting numbers in
            // ascending order stays linear.
            words.reserveCapacity(Swift.max(w + 1, words.count + words.count / 2))
            words += repeatElement(0, count: w + 1 - words.count)
        }
        guard words[w] & m == 0 else { return false }
        words[w] |= m
        count += 1
        return true
    }

    @discardableResult
    mutating func remove(_ n: TicketNumber) -> TicketNumber? {
        guard let (w, m) = Self.bit(n) else {
            let removed = others.remove(n)
            if removed != nil { count -= 1 }
            return removed
        }
        guard w < words.count, words[w] & m != 0 else { return nil }
        words[w] &= ~m
        count -= 1
        return n
    }

    static func == (a: TicketSet, b: TicketSet) -> Bool {
        a.count == b.count && a.others == b.others && a.allSatisfy(b.contains)
    }

    /// The numbers held: those in the bitmap (1…`limit`) ascending, then the others.
    func makeIterator() -> AnyIterator<TicketNumber> {
        var w = 0, word: UInt64 = words.first ?? 0
        var rest = others.sorted().makeIterator()
        let words = words
        return AnyIterator {
            while w < words.count {
                if word != 0 {
                    let b = word.trailingZeroBitCount
                    word &= word - 1
                    return w << 6 + b + 1
                }
                w += 1
                word = w < words.count ? words[w] : 0
            }
            return rest.next()
        }
    }
}

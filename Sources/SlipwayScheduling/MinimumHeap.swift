import Foundation

/// A binary heap that hands out its smallest element first, by `areInIncreasingOrder`.
struct MinimumHeap<Element> {
    private var elements: [Element] = []
    private let areInIncreasingOrder: (Element, Element) -> Bool

    init(by areInIncreasingOrder: @escaping (Element, Element) -> Bool) {
        self.areInIncreasingOrder = areInIncreasingOrder
    }

    var isEmpty: Bool { elements.isEmpty }
    var count: Int { elements.count }
    var minimum: Element? { elements.first }

    mutating func insert(_ element: Element) {
        elements.append(element)
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard areInIncreasingOrder(elements[child], elements[parent]) else { break }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popMinimum() -> Element? {
        guard !elements.isEmpty else { return nil }
        elements.swapAt(0, elements.count - 1)
        let smallest = elements.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallestChild = parent
            if left < elements.count && areInIncreasingOrder(elements[left], elements[smallestChild]) { smallestChild = left }
            if right < elements.count && areInIncreasingOrder(elements[right], elements[smallestChild]) { smallestChild = right }
            if smallestChild == parent { break }
            elements.swapAt(parent, smallestChild)
            parent = smallestChild
        }
        return smallest
    }
}

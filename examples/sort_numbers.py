"""Sort the numbers in a File with a bash app, then sum them with a python app.

The bash app reads its input File and writes an output File; the python app gets the
sorted file through the DataFuture of that output, so it waits for the sort.
"""
import os
import random
import sys
import tempfile

import chervil
from chervil import bash_app, python_app
from chervil.data_provider.files import File


@bash_app
def sort_numbers(inputs=(), outputs=(), stderr=None):
    return f"sort -n {inputs[0].filepath} > {outputs[0].filepath}"


@python_app
def check_and_sum(inputs=()):
    with open(inputs[0].filepath) as f:
        numbers = [int(line) for line in f if line.strip()]
    assert numbers == sorted(numbers), "not sorted"
    return numbers[0], numbers[-1], sum(numbers)


if __name__ == '__main__':
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    work = tempfile.mkdtemp(prefix='chervil-sort-')
    unsorted = os.path.join(work, 'unsorted.txt')
    numbers = [random.randint(0, 1_000_000) for _ in range(count)]
    with open(unsorted, 'w') as f:
        f.write("\n".join(map(str, numbers)) + "\n")
    with chervil.load():
        sorted_file = sort_numbers(inputs=[File(unsorted)], outputs=[File(os.path.join(work, 'sorted.txt'))])
        smallest, largest, total = check_and_sum(inputs=[sorted_file.outputs[0]]).result()
    assert total == sum(numbers)
    print(f"sorted {count} numbers: smallest {smallest}, largest {largest}, sum {total}")

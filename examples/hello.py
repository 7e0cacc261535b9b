"""Hello world: a python app and a bash app."""
import chervil
from chervil import bash_app, python_app


@python_app
def hello(name):
    return f"Hello, {name}!"


@bash_app
def echo(message, stdout='hello-stdout.txt', stderr='hello-stderr.txt'):
    return f'echo "{message}"'


if __name__ == '__main__':
    with chervil.load():
        print(hello('World').result())
        echo('Hello from bash').result()
        with open('hello-stdout.txt') as f:
            print(f.read().strip())

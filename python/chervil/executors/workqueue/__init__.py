"""The Work Queue executor (``parsl.executors.workqueue``)."""

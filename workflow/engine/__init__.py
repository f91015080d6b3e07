"""The BPMN engine glue: the process definition read from bpmn/, forms, the script sandbox,
serialization, and running a case's workflow."""

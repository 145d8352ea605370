"""The answering core: a question in, a grounded answer out, every part number and value in
it checked against the sources.

``answer`` (the ``Answerer``: retrieve, prompt, generate, guard) with ``prompt``, ``generate``
(the generator backends), ``models`` (model files and adapters), ``guard``, ``extractive``
(quoting the source), ``schema`` (the answer at every boundary) and ``factory`` (opening an
answerer on a workspace). finetune and eval import this room and nothing else of serving;
it imports nothing from the delivery layers.
"""

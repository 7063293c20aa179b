// Reports land here.

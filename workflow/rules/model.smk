# Rules of the model stage group.

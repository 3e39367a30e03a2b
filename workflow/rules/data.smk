# Rules of the data stage group.

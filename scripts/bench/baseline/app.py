"""A stand-in for the FastAPI course's app, for `make bench`'s side-by-side table only.

Written from the API contract (docs/api.md), in the course's style and stack: FastAPI routes,
SQLAlchemy ORM models and sessions, pydantic schemas, bcrypt (cost 12), a JWT (HS256, 30
minutes) checked by a dependency on every protected route, the vote count joined into each
listed post. SQLite (one file) stands in for PostgreSQL, so no database server is needed; the
CPU per request measured is the app's, as with uvicorn in front of PostgreSQL minus the
database's own work. Not part of the product, not tested beyond the bench's own checks.

    BASELINE_DB=/tmp/baseline.db uvicorn app:app --port 8001   (see scripts/bench/baseline.sh)
"""
import datetime as dt
import os
from typing import List, Optional

import bcrypt
import jwt
from fastapi import Depends, FastAPI, HTTPException, Response, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import (Boolean, Column, DateTime, ForeignKey, Integer, String, create_engine,
                        func)
from sqlalchemy.orm import Session, declarative_base, relationship, sessionmaker

SECRET = os.environ.get("BASELINE_JWT_SECRET", "baseline-secret-baseline-secret-0123")
engine = create_engine(f"sqlite:///{os.environ.get('BASELINE_DB', '/tmp/baseline.db')}",
                       connect_args={"check_same_thread": False})
SessionLocal = sessionmaker(bind=engine, autoflush=False)
Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String, unique=True, nullable=False)
    password = Column(String, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Post(Base):
    __tablename__ = "posts"
    id = Column(Integer, primary_key=True)
    title = Column(String, nullable=False)
    content = Column(String, nullable=False)
    published = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    owner_id = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    owner = relationship("User")


class Vote(Base):
    __tablename__ = "votes"
    user_id = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    post_id = Column(Integer, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)


Base.metadata.create_all(engine)


class UserCreate(BaseModel):
    email: EmailStr
    password: str


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: EmailStr
    created_at: dt.datetime


class PostCreate(BaseModel):
    title: str
    content: str
    published: bool = True


class PostSchema(PostCreate):
    model_config = ConfigDict(from_attributes=True)
    id: int
    created_at: dt.datetime
    owner_id: int
    owner: UserOut


class PostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    Post: PostSchema
    votes: int


class Token(BaseModel):
    access_token: str
    token_type: str


class VoteIn(BaseModel):
    post_id: int
    dir: int = Field(ge=0, le=1)


app = FastAPI()
oauth2 = OAuth2PasswordBearer(tokenUrl="login")


def db():
    session = SessionLocal()
    try:
        yield session
    finally:
        session.close()


def current_user(token: str = Depends(oauth2), session: Session = Depends(db)) -> User:
    refused = HTTPException(status.HTTP_401_UNAUTHORIZED, "Could not validate credentials",
                            {"WWW-Authenticate": "Bearer"})
    try:
        user_id = jwt.decode(token, SECRET, algorithms=["HS256"]).get("user_id")
    except jwt.PyJWTError:
        raise refused
    user = session.get(User, user_id)
    if user is None:
        raise refused
    return user


@app.get("/")
def root():
    return {"message": "Hello World"}


@app.post("/users", status_code=201, response_model=UserOut)
def create_user(body: UserCreate, session: Session = Depends(db)):
    if session.query(User).filter(User.email == body.email).first():
        raise HTTPException(409, f"User with email: {body.email} already exists")
    hashed = bcrypt.hashpw(body.password.encode(), bcrypt.gensalt(12)).decode()
    user = User(email=body.email, password=hashed)
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


@app.get("/users/{id}", response_model=UserOut)
def get_user(id: int, session: Session = Depends(db)):
    user = session.get(User, id)
    if user is None:
        raise HTTPException(404, f"User with id: {id} does not exist")
    return user


@app.post("/login", response_model=Token)
def login(form: OAuth2PasswordRequestForm = Depends(), session: Session = Depends(db)):
    user = session.query(User).filter(User.email == form.username).first()
    if user is None or not bcrypt.checkpw(form.password.encode(), user.password.encode()):
        raise HTTPException(403, "Invalid Credentials")
    exp = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=30)
    token = jwt.encode({"user_id": user.id, "exp": exp}, SECRET, algorithm="HS256")
    return {"access_token": token, "token_type": "bearer"}


def with_votes(session: Session):
    return (session.query(Post, func.count(Vote.post_id).label("votes"))
            .join(Vote, Vote.post_id == Post.id, isouter=True).group_by(Post.id))


@app.get("/posts", response_model=List[PostOut])
def list_posts(session: Session = Depends(db), user: User = Depends(current_user),
               limit: int = 10, skip: int = 0, search: Optional[str] = ""):
    rows = (with_votes(session).filter(Post.title.contains(search)).order_by(Post.id.desc())
            .limit(limit).offset(skip).all())
    return [{"Post": post, "votes": votes} for post, votes in rows]


@app.post("/posts", status_code=201, response_model=PostSchema)
def create_post(body: PostCreate, session: Session = Depends(db),
                user: User = Depends(current_user)):
    post = Post(owner_id=user.id, **body.model_dump())
    session.add(post)
    session.commit()
    session.refresh(post)
    return post


@app.get("/posts/{id}", response_model=PostOut)
def get_post(id: int, session: Session = Depends(db), user: User = Depends(current_user)):
    row = with_votes(session).filter(Post.id == id).first()
    if row is None:
        raise HTTPException(404, f"post with id: {id} was not found")
    return {"Post": row[0], "votes": row[1]}


def owned_post(id: int, session: Session, user: User) -> Post:
    post = session.get(Post, id)
    if post is None:
        raise HTTPException(404, f"post with id: {id} does not exist")
    if post.owner_id != user.id:
        raise HTTPException(403, "Not authorized to perform requested action")
    return post


@app.put("/posts/{id}", response_model=PostSchema)
def update_post(id: int, body: PostCreate, session: Session = Depends(db),
                user: User = Depends(current_user)):
    post = owned_post(id, session, user)
    for key, value in body.model_dump().items():
        setattr(post, key, value)
    session.commit()
    session.refresh(post)
    return post


@app.delete("/posts/{id}", status_code=204)
def delete_post(id: int, session: Session = Depends(db), user: User = Depends(current_user)):
    session.delete(owned_post(id, session, user))
    session.commit()
    return Response(status_code=204)


@app.post("/vote", status_code=201)
def vote(body: VoteIn, session: Session = Depends(db), user: User = Depends(current_user)):
    if session.get(Post, body.post_id) is None:
        raise HTTPException(404, f"Post with id: {body.post_id} does not exist")
    found = session.get(Vote, (user.id, body.post_id))
    if body.dir == 1:
        if found:
            raise HTTPException(409, f"user {user.id} has already voted on post {body.post_id}")
        session.add(Vote(user_id=user.id, post_id=body.post_id))
        session.commit()
        return {"message": "successfully added vote"}
    if not found:
        raise HTTPException(404, "Vote does not exist")
    session.delete(found)
    session.commit()
    return {"message": "successfully deleted vote"}
